/* vm-rm — remove microVMs: stop them, free their network, delete their state.
 *
 * Its usage, the text --help prints, is vm_rm_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "lock.h"
#include "log.h"
#include "vm/net.h"
#include "path.h"
#include "store.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <unistd.h>

const char vm_rm_usage[] =
	"usage: vm-rm [-f] NAME...\n"
	"\n"
	"A running VM is stopped first (orderly, then forced after 15 seconds).\n"
	"Its tap device, NAT rules and address lease go, and the bridge too once\n"
	"no VM of any store holds a lease on it. -f, as in docker rm -f: a running\n"
	"VM is killed instead (SIGTERM to its VMM, SIGKILL after 2 seconds), a VM\n"
	"that does not exist is not an error, and one whose config.json is\n"
	"damaged is removed anyway.\n"
	"\n"
	"examples:\n"
	"  banger vm rm web\n"
	"  banger vm rm -f web db\n"
	"  banger vm ps -q | xargs banger vm rm -f\n";

int vm_rm_main(int argc, char **argv)
{
	bool force = false;
	int o, rc = EXIT_OK;
	struct store s;
	struct err e;

	err_init(&e);
	while ((o = xgetopt(argc, argv, "+f")) != -1) {
		if (o != 'f')
			die_usage("unknown option");
		force = true;
	}
	if (optind >= argc)
		die_usage("give the name of a VM");
	if (store_init(&s, &e) < 0)
		die_err(&e);
	for (int i = optind; i < argc; i++) {
		struct vm_config c;
		struct vm_paths p;
		int lock;

		err_init(&e);
		if (vm_paths_init(&s, argv[i], &p, &e) < 0 ||
		    (lock = vm_lock(&s, argv[i], &e)) < 0) {
			log_error("%s", e.msg);
			rc = e.code;
			continue;
		}
		if (vm_config_load(&p, &c, &e) < 0 && force && e.code == EXIT_VERIFY) {
			/* A damaged config: -f removes what is there (a VMM it
			 * started, if any, must be killed by hand). */
			log_warn("%s — removing %s anyway", e.msg, p.dir);
			err_init(&e);
			if (net_lease_put(p.leases, argv[i], NULL, &e) < 0 ||
			    path_remove_tree(p.dir, &e) < 0) {
				log_error("%s", e.msg);
				rc = e.code;
			}
		} else if (e.code ||
			   (force && vm_status_get(&p, NULL) == VM_RUNNING &&
			    vm_stop(&p, &c, 0, true, &e) < 0) ||
			   vm_remove(&s, &p, &c, &e) < 0) {
			if (!(force && e.code == EXIT_NOTFOUND)) {
				log_error("%s", e.msg);
				rc = e.code;
			}
		}
		lock_release(lock);
	}
	return rc;
}
