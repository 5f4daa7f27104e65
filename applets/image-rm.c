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
#include "vm/prune.h"
#include "xfuncs.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

const char image_rm_usage[] =
	"usage: image-rm [-f] NAME...\n"
	"\n"
	"Waits for a pull of the same image to finish. Cached layers stay in\n"
	"BANGER_HOME/oci/blobs (other images may share them). An image that VMs\n"
	"use is refused, naming them; with -f it goes anyway, and those VMs keep\n"
	"its bytes (their base.ext4) until they are removed.\n"
	"\n"
	"  -f, --force   remove images that VMs use\n"
	"\n"
	"examples:\n"
	"  banger image rm web\n"
	"  banger image rm -f web debian-bookworm\n";

static const struct option opts[] = {
	{ "force", no_argument, NULL, 'f' },
	{ NULL, 0, NULL, 0 },
};

int image_rm_main(int argc, char **argv)
{
	struct store s;
	struct err e;
	bool force = false;
	int rc = EXIT_OK, o;

	while ((o = xgetopt_long(argc, argv, "f", opts, NULL)) != -1)
		force = true;
	argc -= optind - 1;
	argv += optind - 1;
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
		if (!force) {
			char users[512];
			int n = prune_image_users(&s, argv[i], users, sizeof(users));

			if (n) {
				if (n < 0)
					log_error("%s: a VM's config cannot be read, so it may "
						  "use this image — fix or remove that VM, or "
						  "image rm -f %s",
						  argv[i], argv[i]);
				else
					log_error("%s: used by VM%s %s — remove %s first, or "
						  "image rm -f %s (they keep its bytes)",
						  argv[i], n > 1 ? "s" : "", users,
						  n > 1 ? "them" : "it", argv[i]);
				rc = EXIT_BUSY;
				lock_release(lock);
				continue;
			}
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
