/* vm-restart — stop a microVM (orderly, then forced) and boot it again.
 *
 * Its usage, the text --help prints, is vm_restart_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "lock.h"
#include "log.h"
#include "store.h"
#include "units.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <stdint.h>
#include <unistd.h>

const char vm_restart_usage[] =
	"usage: vm-restart [-t SECONDS] NAME...\n"
	"\n"
	"For each VM: vm-stop (the guest is asked to power off; after SECONDS,\n"
	"default 15, the VMM is killed) unless it is not running, then vm-start.\n"
	"The VM keeps its address, disk and name.\n"
	"\n"
	"examples:\n"
	"  banger vm restart web\n"
	"  banger vm restart -t 0 web db\n";

int vm_restart_main(int argc, char **argv)
{
	int timeout_ms = VM_STOP_TIMEOUT_MS, o, rc = EXIT_OK;
	struct store s;
	struct err e;
	uint64_t v;

	err_init(&e);
	while ((o = xgetopt(argc, argv, "+t:")) != -1) {
		if (o != 't')
			die_usage("unknown option");
		if (parse_u64(optarg, 10, 3600, &v) < 0)
			die_usage("-t '%s': give seconds from 0 to 3600", optarg);
		timeout_ms = (int)v * 1000;
	}
	if (optind >= argc)
		die_usage("give the name of a VM");
	if (store_init(&s, &e) < 0)
		die_err(&e);
	for (int i = optind; i < argc; i++) {
		char notice[256];
		struct vm_config c;
		struct vm_paths p;
		int lock = -1;

		err_init(&e);
		if (vm_paths_init(&s, argv[i], &p, &e) < 0 ||
		    (lock = vm_lock(&s, argv[i], &e)) < 0 || vm_config_load(&p, &c, &e) < 0 ||
		    (vm_status_get(&p, NULL) == VM_RUNNING &&
		     vm_stop(&p, &c, timeout_ms, timeout_ms == 0, &e) < 0) ||
		    vm_start(&s, &p, &c, notice, sizeof(notice), &e) < 0) {
			log_error("%s", e.msg);
			rc = e.code;
		} else if (notice[0]) {
			log_info("%s", notice);
		}
		lock_release(lock);
	}
	return rc;
}
