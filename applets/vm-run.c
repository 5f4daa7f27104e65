/* vm-run — create and boot a microVM, then run a command or an interactive shell.
 *
 * usage: vm-run [-d] [--name N] [--image REF] [--kernel K] [-- CMD...]
 *
 * Not implemented yet (exit 3).
 */
#include "applet.h"

const char vm_run_usage[] = "usage: vm-run [-d] [--name N] [--image REF] [--kernel K] [-- CMD...]\n"
			    "\n"
			    "Not implemented yet (exit 3).\n";

int vm_run_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return applet_not_implemented();
}
