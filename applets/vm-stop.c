/* vm-stop — shut a microVM down: orderly first, forced after a timeout.
 *
 * Its usage, the text --help prints, is vm_stop_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "lock.h"
#include "store.h"
#include "units.h"
#include "vm/pause.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <stdlib.h>
#include <unistd.h>

const char vm_stop_usage[] =
	"usage: vm-stop [-f] [-t SECONDS] NAME\n"
	"\n"
	"Asks the guest to power off (Ctrl-Alt-Del through Firecracker, the ACPI\n"
	"power button through QEMU) and waits; after SECONDS (default 15) the VMM\n"
	"gets SIGTERM, then SIGKILL. -f skips the orderly part. A paused VM is\n"
	"resumed first (without -f), so it can shut down. Stopping a VM that is\n"
	"not running answers 1.\n"
	"\n"
	"examples:\n"
	"  banger vm stop web\n"
	"  banger vm stop -t 0 web\n";

int vm_stop_main(int argc, char **argv)
{
	int timeout_ms = VM_STOP_TIMEOUT_MS, o, lock;
	bool force = false;
	struct vm_config c;
	struct vm_paths p;
	struct store s;
	struct err e;
	uint64_t v;

	err_init(&e);
	while ((o = xgetopt(argc, argv, "+ft:")) != -1) {
		if (o == 'f') {
			force = true;
		} else if (o == 't') {
			if (parse_u64(optarg, 10, 3600, &v) < 0)
				die_usage("-t '%s': give seconds from 0 to 3600", optarg);
			timeout_ms = (int)v * 1000;
		} else {
			die_usage("unknown option");
		}
	}
	if (optind + 1 != argc)
		die_usage("give the name of one VM");
	if (store_init(&s, &e) < 0 || vm_paths_init(&s, argv[optind], &p, &e) < 0 ||
	    (lock = vm_lock(&s, argv[optind], &e)) < 0 || vm_config_load(&p, &c, &e) < 0)
		die_err(&e);
	/* A paused guest cannot hear the agent or the power button: it runs
	 * on for its orderly shutdown. */
	if (!force && vm_status_get(&p, NULL) == VM_RUNNING &&
	    vm_run_state_get(&p, &c, VM_QUERY_TIMEOUT_MS, &e) == VM_RUN_PAUSED &&
	    vm_resume(&p, &c, &e) < 0)
		die_err(&e);
	err_init(&e);
	if (vm_stop(&p, &c, timeout_ms, force, &e) < 0)
		die_err(&e);
	lock_release(lock);
	return EXIT_OK;
}
