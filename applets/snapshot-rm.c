/* snapshot-rm — remove snapshots and the disk space they hold.
 *
 * Its usage, the text --help prints, is snapshot_rm_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "log.h"
#include "store.h"
#include "vm/snapshot.h"
#include "xfuncs.h"

#include <unistd.h>

const char snapshot_rm_usage[] =
	"usage: snapshot-rm [-f] SNAP...\n"
	"\n"
	"Removes each snapshot's directory: its memory and state files, its disk\n"
	"copies, its link to the base image (whose bytes stay while an image or a\n"
	"VM still holds them). Waits for a 'vm start --from' that is reading it.\n"
	"VMs started from it are not touched: they have their own disks. -f: a\n"
	"snapshot that does not exist is not an error.\n"
	"\n"
	"examples:\n"
	"  banger snapshot rm web-ready\n"
	"  banger snapshot list -q | xargs banger snapshot rm\n";

int snapshot_rm_main(int argc, char **argv)
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
		die_usage("give the name of a snapshot");
	if (store_init(&s, &e) < 0)
		die_err(&e);
	for (int i = optind; i < argc; i++) {
		err_init(&e);
		if (snap_remove(&s, argv[i], &e) < 0 && !(force && e.code == EXIT_NOTFOUND)) {
			log_error("%s", e.msg);
			rc = e.code;
		}
	}
	return rc;
}
