/* first-boot — the guest init: PID 1 of every banger VM, or a systemd oneshot.
 *
 * usage: first-boot
 *
 * As PID 1: mounts /proc /sys /dev /run, applies the banger.* kernel
 * parameters, then execs systemd (installing it if missing) or stays a
 * minimal init. Not implemented yet (exit 3).
 */
#include "applet.h"

const char first_boot_usage[] =
	"usage: first-boot\n"
	"\n"
	"As PID 1: mounts /proc /sys /dev /run, applies the banger.* kernel\n"
	"parameters, then execs systemd (installing it if missing) or stays a\n"
	"minimal init. Not implemented yet (exit 3).\n";

int first_boot_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return applet_not_implemented();
}
