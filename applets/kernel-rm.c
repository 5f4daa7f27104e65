/* kernel-rm — remove an installed kernel.
 *
 * Its usage, the text --help prints, is kernel_rm_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "kernel/kernel.h"
#include "lock.h"
#include "log.h"
#include "path.h"
#include "store.h"
#include "xfuncs.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

const char kernel_rm_usage[] =
	"usage: kernel-rm NAME...\n"
	"\n"
	"Removes BANGER_HOME/kernels/NAME, waiting for a pull of the same kernel\n"
	"to finish first. The directory is renamed away in one step and then\n"
	"deleted, so a kernel is never seen half-removed.\n"
	"Exit: 0 removed, 7 no such kernel.\n"
	"\n"
	"examples:\n"
	"  banger kernel rm mine\n"
	"  banger kernel rm mine other\n";

static int rm_one(const struct store *s, const char *name, struct err *e)
{
	char dir[LIMIT_PATH], trash[LIMIT_PATH];
	struct stat st;
	int lock, rc = -1;

	if (store_object_dir(s, KERNEL_KIND, name, dir, sizeof(dir), e) < 0)
		return -1;
	lock = store_lock_existing(s, KERNEL_KIND, name, NULL, e);
	if (lock < 0 && e->code != EXIT_NOTFOUND)
		return -1;
	if (lock >= 0)
		store_sweep_staging(s, KERNEL_KIND, name);
	if (lock < 0 || lstat(dir, &st) < 0) {
		err_set(e, EXIT_NOTFOUND,
			"%s: no such kernel — 'kernel-list' shows what is installed", name);
		goto out;
	}
	/* Renamed over an empty staging dir, then removed at leisure. */
	if (store_staging(s, KERNEL_KIND, name, trash, sizeof(trash), e) < 0)
		goto out;
	if (rename(dir, trash) < 0) {
		err_errno(e, 0, "%s: cannot remove", dir);
		goto out;
	}
	rc = path_remove_tree(trash, e);
out:
	lock_release(lock);
	return rc;
}

int kernel_rm_main(int argc, char **argv)
{
	struct store s;
	struct err e;
	int rc = EXIT_OK;

	err_init(&e);
	while (xgetopt(argc, argv, "") != -1)
		;
	if (optind >= argc)
		die_usage("which kernel? 'kernel-list' shows what is installed");
	if (store_init(&s, &e) < 0)
		die_err(&e);
	for (int i = optind; i < argc; i++) {
		err_init(&e);
		if (rm_one(&s, argv[i], &e) < 0) {
			log_error("%s", e.msg);
			rc = e.code;
			continue;
		}
		printf("%s: removed\n", argv[i]);
	}
	return fflush(stdout) ? EXIT_SYSTEM : rc;
}
