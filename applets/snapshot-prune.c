/* snapshot-prune — drop vm run's boot cache.
 *
 * Its usage, the text --help prints, is snapshot_prune_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "log.h"
#include "store.h"
#include "vm/snapshot.h"
#include "xfuncs.h"

#include <unistd.h>

const char snapshot_prune_usage[] =
	"usage: snapshot-prune [-q]\n"
	"\n"
	"Removes every entry of vm run's boot cache: the snapshots named\n"
	"cache-HASH ('snapshot list' shows them). Snapshots taken with\n"
	"'vm snapshot' under other names stay. The next vm run of each kind of\n"
	"VM boots cold and saves its entry again. Says how many went on stderr\n"
	"(-q: nothing).\n"
	"\n"
	"examples:\n"
	"  banger snapshot prune\n"
	"  banger vm run --no-snapshot -- true   (boot cold, leave the cache alone)\n";

int snapshot_prune_main(int argc, char **argv)
{
	struct store s;
	struct err e;
	int n = 0;

	err_init(&e);
	if (xgetopt(argc, argv, "+") != -1)
		die_usage("unknown option");
	if (optind < argc)
		die_usage("snapshot prune takes no names ('snapshot rm' does)");
	if (store_init(&s, &e) < 0 || snap_cache_prune(&s, &n, &e) < 0)
		die_err(&e);
	log_info("boot cache: %d entr%s removed", n, n == 1 ? "y" : "ies");
	return EXIT_OK;
}
