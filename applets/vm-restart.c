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

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

const char vm_restart_usage[] =
	"usage: vm-restart [-t SECONDS] [--no-wait] [--timeout SECS] NAME...\n"
	"\n"
	"For each VM: vm-stop (the guest is asked to power off; after SECONDS,\n"
	"default 15, the VMM is killed) unless it is not running, then vm-start,\n"
	"which returns once the guest agent answers, as vm start does. The VM\n"
	"keeps its address, disk and name.\n"
	"\n"
	"  -t SECONDS      how long the guest has to power off (default 15)\n"
	"  --no-wait       return once the VMM has accepted the configuration\n"
	"  --timeout SECS  how long to wait for the agent (default 120)\n"
	"\n"
	"examples:\n"
	"  banger vm restart web\n"
	"  banger vm restart -t 0 web db\n";

static const struct option opts[] = {
	{ "no-wait", no_argument, NULL, 'W' },
	{ "timeout", required_argument, NULL, 'T' },
	{ NULL, 0, NULL, 0 },
};

int vm_restart_main(int argc, char **argv)
{
	int timeout_ms = VM_STOP_TIMEOUT_MS, wait_ms = 120 * 1000, o, rc = EXIT_OK;
	bool wait = true;
	struct store s;
	struct err e;
	uint64_t v;

	err_init(&e);
	while ((o = xgetopt_long(argc, argv, "+t:", opts, NULL)) != -1) {
		if (o == 'W') {
			wait = false;
		} else if (o == 'T') {
			if (parse_u64(optarg, 10, 3600, &v) < 0 || !v)
				die_usage("--timeout '%s': give seconds from 1 to 3600", optarg);
			wait_ms = (int)v * 1000;
		} else {
			if (parse_u64(optarg, 10, 3600, &v) < 0)
				die_usage("-t '%s': give seconds from 0 to 3600", optarg);
			timeout_ms = (int)v * 1000;
		}
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
		if ((lock = vm_open_locked(&s, argv[i], &p, &c, &e)) < 0 ||
		    (vm_status_get(&p, NULL) == VM_RUNNING &&
		     vm_stop(&p, &c, timeout_ms, timeout_ms == 0, &e) < 0) ||
		    vm_start(&s, &p, &c, notice, sizeof(notice), &e) < 0 ||
		    (wait && vm_wait_agent(&p, &c, wait_ms, &e) < 0)) {
			log_error("%s", e.msg);
			rc = e.code;
		} else if (notice[0]) {
			log_info("%s", notice);
		}
		lock_release(lock);
	}
	return rc;
}
