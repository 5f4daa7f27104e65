/* kernel-prune — remove what interrupted pulls left, and with -a the kernels no VM uses.
 *
 * Its usage, the text --help prints, is kernel_prune_usage[] below.
 */
#include "applet.h"

const char kernel_prune_usage[] =
	"usage: kernel-prune [-an]\n"
	"\n"
	"Removes the staging directories of kernel pulls and imports that died.\n"
	"One line a removed thing on stdout (KIND NAME SIZE), then the total.\n"
	"\n"
	"  -a  also remove the kernels no VM's config names (vm run pulls the\n"
	"      default one again)\n"
	"  -n  say what would go, remove nothing\n"
	"\n"
	"examples:\n"
	"  banger kernel prune\n"
	"  banger kernel prune -a -n\n";

int kernel_prune_main(int argc, char **argv)
{
	return prune_applet(argc, argv, false);
}
