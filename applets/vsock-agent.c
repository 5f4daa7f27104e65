/* vsock-agent — the guest agent: answers the host over vsock or virtio-serial.
 *
 * usage: vsock-agent [-v] [--port PORT]
 *
 * Not implemented yet (exit 3).
 */
#include "applet.h"

const char vsock_agent_usage[] = "usage: vsock-agent [-v] [--port PORT]\n"
				 "\n"
				 "Not implemented yet (exit 3).\n";

int vsock_agent_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return applet_not_implemented();
}
