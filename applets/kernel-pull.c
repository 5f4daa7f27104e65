/* kernel-pull — download a verified guest kernel from the kernel catalog.
 *
 * usage: kernel-pull [-fqv] [--catalog URL|PATH] NAME
 *
 * Not implemented yet (exit 3).
 */
#include "applet.h"

const char kernel_pull_usage[] = "usage: kernel-pull [-fqv] [--catalog URL|PATH] NAME\n"
				 "\n"
				 "Not implemented yet (exit 3).\n";

int kernel_pull_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return applet_not_implemented();
}
