/* vm-pause — stop a running microVM's vCPUs where they are, keeping it in memory.
 *
 * Its usage, the text --help prints, is vm_pause_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "lock.h"
#include "log.h"
#include "store.h"
#include "vm/pause.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <unistd.h>

const char vm_pause_usage[] =
	"usage: vm-pause NAME...\n"
	"\n"
	"Freezes the guest: its vCPUs stop (QMP stop under QEMU, PATCH /vm\n"
	"Paused under Firecracker); memory, devices and the VMM process stay, so\n"
	"'vm resume' goes on where it stopped. Meanwhile vm list shows it as\n"
	"paused and nothing in it answers (vm exec waits, then times out); its\n"
	"clock stands still. Pausing a VM that is not running, or is paused\n"
	"already, answers 1.\n"
	"\n"
	"examples:\n"
	"  banger vm pause web\n"
	"  banger vm pause web && banger vm list\n";

/* vm-pause and vm-resume: the same arguments, one call apart. */
int pause_applet(int argc, char **argv, bool pause)
{
	int rc = EXIT_OK;
	struct store s;
	struct err e;

	err_init(&e);
	if (xgetopt(argc, argv, "+") != -1)
		die_usage("unknown option");
	if (optind >= argc)
		die_usage("give the name of a VM");
	if (store_init(&s, &e) < 0)
		die_err(&e);
	for (int i = optind; i < argc; i++) {
		struct vm_config c;
		struct vm_paths p;
		int lock = -1;

		err_init(&e);
		if ((lock = vm_open_locked(&s, argv[i], &p, &c, &e)) < 0 ||
		    (pause ? vm_pause : vm_resume)(&p, &c, &e) < 0) {
			log_error("%s", e.msg);
			rc = e.code;
		}
		lock_release(lock);
	}
	return rc;
}

int vm_pause_main(int argc, char **argv)
{
	return pause_applet(argc, argv, true);
}
