/* image-rm — remove images from BANGER_HOME/images.
 *
 * Its usage, the text --help prints, is image_rm_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "lock.h"
#include "log.h"
#include "path.h"
#include "store.h"
#include "xfuncs.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

const char image_rm_usage[] =
	"usage: image-rm NAME...\n"
	"\n"
	"Waits for a pull of the same image to finish. Cached layers stay in\n"
	"BANGER_HOME/oci/blobs (other images may share them).\n"
	"\n"
	"examples:\n"
	"  banger image rm web\n"
	"  banger image rm web debian-bookworm\n";

int image_rm_main(int argc, char **argv)
{
	struct store s;
	struct err e;
	int rc = EXIT_OK;

	if (argc < 2)
		die_usage("want the name of an image");
	err_init(&e);
	if (store_init(&s, &e) < 0)
		die_err(&e);
	for (int i = 1; i < argc; i++) {
		char dir[LIMIT_PATH], gone[LIMIT_PATH];
		struct stat st;
		int lock;

		if (store_object_dir(&s, "images", argv[i], dir, sizeof(dir), &e) < 0)
			die_err(&e);
		lock = store_lock_existing(&s, "images", argv[i], NULL, &e);
		if (lock < 0 && e.code != EXIT_NOTFOUND)
			die_err(&e);
		if (lock < 0 || lstat(dir, &st) < 0) {
			log_error("%s: no such image — see image-list", argv[i]);
			rc = EXIT_NOTFOUND;
			lock_release(lock);
			continue;
		}
		/* Out of sight first, so a crash leaves only sweepable staging. */
		if (path_joinf(gone, sizeof(gone), &e, s.home, "images/.%s.staging.%d", argv[i],
			       (int)getpid()) < 0)
			die_err(&e);
		if (rename(dir, gone) < 0) {
			err_errno(&e, 0, "%s: cannot remove", dir);
			die_err(&e);
		}
		if (path_remove_tree(gone, &e) < 0)
			die_err(&e);
		lock_release(lock);
	}
	return rc;
}
