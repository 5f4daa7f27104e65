/* vm-ps — vm-list under docker's name for it.
 *
 * Its usage, the text --help prints, is vm_ps_usage[] below.
 */
#include "applet.h"

const char vm_ps_usage[] = "usage: vm-ps [-q] [--json]\n"
			   "\n"
			   "The same as vm-list: one line a VM, -q only the names, --json the\n"
			   "objects.\n"
			   "\n"
			   "examples:\n"
			   "  banger vm ps\n"
			   "  banger vm ps -q | xargs banger vm stop\n";

int vm_ps_main(int argc, char **argv)
{
	return vm_list_main(argc, argv);
}
