/* vm-start — boot a created or stopped microVM in the background.
 *
 * Its usage, the text --help prints, is vm_start_usage[] below.
 */
#include "applet.h"
#include "clock.h"
#include "err.h"
#include "exitcode.h"
#include "lock.h"
#include "log.h"
#include "store.h"
#include "vm/snapshot.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

const char vm_start_usage[] =
	"usage: vm-start [--no-wait] [--timeout SECS] [--from SNAP] NAME\n"
	"\n"
	"Brings up its network (bridge, tap, NAT as configured), starts its VMM\n"
	"detached with the console going to the VM's console.log, and returns once\n"
	"the guest agent answers, so a 'vm exec' right after works. A VM created\n"
	"for Firecracker starts with QEMU, saying so, when /dev/kvm is not usable.\n"
	"\n"
	"  --no-wait       return once the VMM has accepted the configuration\n"
	"  --timeout SECS  how long to wait for the agent (default 120)\n"
	"  --from SNAP     restore snapshot SNAP ('vm snapshot') instead of booting:\n"
	"                  its manifest is checked against the VM (banger version,\n"
	"                  VMM, kernel, initramfs, image, size) and each file against\n"
	"                  its size and sha256; the VM's writable disk becomes the\n"
	"                  snapshot's copy. The guest goes on from the moment it was\n"
	"                  saved; then its identity is re-applied through the agent:\n"
	"                  this VM's hostname and address, a fresh machine-id, host\n"
	"                  entropy (the guest's RNG reseeds) and the host's clock.\n"
	"                  With --no-wait it is not: the guest keeps the saved ones\n"
	"\n"
	"examples:\n"
	"  banger vm start web\n"
	"  banger vm start web && banger vm exec web -- uptime\n"
	"  banger vm start --from web-ready web\n";

static const struct option opts[] = {
	{ "no-wait", no_argument, NULL, 'W' },
	{ "timeout", required_argument, NULL, 't' },
	{ "from", required_argument, NULL, 'F' },
	{ NULL, 0, NULL, 0 },
};

int vm_start_main(int argc, char **argv)
{
	char notice[256], *end;
	const char *from = NULL;
	long long check_ms = 0;
	int64_t t0 = now_ms();
	struct vm_config c;
	struct vm_paths p;
	struct store s;
	struct err e;
	bool wait = true;
	long timeout_s = 120;
	int lock, o;

	err_init(&e);
	while ((o = xgetopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (o == 'W') {
			wait = false;
		} else if (o == 'F') {
			from = optarg;
		} else if (o == 't') {
			timeout_s = strtol(optarg, &end, 10);
			if (*end || end == optarg || timeout_s < 1 || timeout_s > 3600)
				die_usage("--timeout '%s': give seconds from 1 to 3600", optarg);
		} else {
			die_usage("unknown option");
		}
	}
	if (argc - optind != 1 || argv[optind][0] == '-')
		die_usage("give the name of one VM");
	if (store_init(&s, &e) < 0 || vm_paths_init(&s, argv[optind], &p, &e) < 0 ||
	    (lock = vm_lock(&s, argv[optind], &e)) < 0 || vm_config_load(&p, &c, &e) < 0)
		die_err(&e);
	if ((from ? snap_start(&s, &p, &c, from, notice, sizeof(notice), &check_ms, &e)
		  : vm_start(&s, &p, &c, notice, sizeof(notice), &e)) < 0)
		die_err(&e);
	if (from)
		log_debug("snapshot %s: checked in %lld ms, VMM running at %lld ms", from, check_ms,
			  (long long)(now_ms() - t0));
	if (notice[0])
		log_info("%s", notice);
	lock_release(lock);
	if (from && wait && snap_identity(&p, &c, (int)timeout_s * 1000, &e) < 0)
		die_err(&e);
	if (from && wait)
		log_debug("snapshot %s: identity re-applied at %lld ms", from,
			  (long long)(now_ms() - t0));
	else if (wait && vm_wait_agent(&p, &c, (int)timeout_s * 1000, &e) < 0)
		die_err(&e);
	return EXIT_OK;
}
