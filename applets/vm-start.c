/* vm-start — boot a created or stopped microVM in the background.
 *
 * Its usage, the text --help prints, is vm_start_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "lock.h"
#include "log.h"
#include "store.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <string.h>

const char vm_start_usage[] =
	"usage: vm-start NAME\n"
	"\n"
	"Brings up its network (bridge, tap, NAT as configured), starts its VMM\n"
	"detached with the console going to the VM's console.log, and returns once\n"
	"the VMM has accepted the configuration. A VM created for Firecracker\n"
	"starts with QEMU, saying so, when /dev/kvm is not usable.\n"
	"\n"
	"examples:\n"
	"  banger vm start web\n"
	"  banger vm start web && banger vm exec web -- uptime\n";

int vm_start_main(int argc, char **argv)
{
	char notice[256];
	struct vm_config c;
	struct vm_paths p;
	struct store s;
	struct err e;
	int lock;

	err_init(&e);
	if (argc != 2 || argv[1][0] == '-')
		die_usage("give the name of one VM");
	if (store_init(&s, &e) < 0 || vm_paths_init(&s, argv[1], &p, &e) < 0 ||
	    (lock = vm_lock(&s, argv[1], &e)) < 0 || vm_config_load(&p, &c, &e) < 0)
		die_err(&e);
	if (vm_start(&s, &p, &c, notice, sizeof(notice), &e) < 0)
		die_err(&e);
	if (notice[0])
		log_info("%s", notice);
	lock_release(lock);
	return EXIT_OK;
}
