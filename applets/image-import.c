/* image-import — register a local ext4 file as an image.
 *
 * Its usage, the text --help prints, is image_import_usage[] below.
 */
#include "applet.h"
#include "digest.h"
#include "err.h"
#include "exitcode.h"
#include "ext4/ext4.h"
#include "file.h"
#include "oci/image.h"
#include "lock.h"
#include "log.h"
#include "path.h"
#include "store.h"
#include "xfuncs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char image_import_usage[] =
	"usage: image-import [-f] NAME PATH.ext4\n"
	"\n"
	"Copies PATH.ext4 to BANGER_HOME/images/NAME/rootfs.ext4 with a manifest\n"
	"(source \"import:PATH\", its sha256). The file is used as it is: a VM\n"
	"boots it under banger's initramfs, which brings first-boot and the agent,\n"
	"so any root filesystem with a /bin/sh boots and answers. -f replaces NAME.\n"
	"\n"
	"examples:\n"
	"  banger image import mydisk ./rootfs.ext4\n"
	"  banger image import -f mydisk ./rootfs.ext4\n";

static int copy_file(const char *src, const char *dst, struct err *e)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out;
	int rc = -1;

	if (in < 0)
		return err_errno(e, 0, "%s: cannot open", src);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		close(in);
		return err_errno(e, 0, "%s: cannot create", dst);
	}
	if (file_copy_fd(in, out, src, NULL, e) < 0)
		goto out;
	if (fsync(out) < 0) {
		err_errno(e, 0, "%s: fsync", dst);
		goto out;
	}
	rc = 0;
out:
	close(in);
	close(out);
	return rc;
}

int image_import_main(int argc, char **argv)
{
	char dir[LIMIT_PATH], staging[LIMIT_PATH], dst[LIMIT_PATH], hex[DIGEST_HEX_LEN + 1];
	char abs[LIMIT_PATH];
	struct image_meta m, old;
	struct store s;
	struct stat st;
	struct err e;
	bool force = false;
	int lock, i = 1;

	if (argc > 1 && (!strcmp(argv[1], "-f") || !strcmp(argv[1], "--force"))) {
		force = true;
		i++;
	}
	if (argc - i != 2)
		die_usage("want NAME and PATH.ext4");
	err_init(&e);
	if (!realpath(argv[i + 1], abs) || stat(abs, &st) < 0 || !S_ISREG(st.st_mode)) {
		err_errno(&e, errno ? 0 : EXIT_NOTFOUND, "%s: not a readable file", argv[i + 1]);
		die_err(&e);
	}
	if (!ext4_is_ext4(abs))
		die(EXIT_VERIFY, "%s: not an ext4 filesystem (no ext2/3/4 superblock)", abs);
	if (store_init(&s, &e) < 0 ||
	    store_object_dir(&s, "images", argv[i], dir, sizeof(dir), &e) < 0 ||
	    (lock = store_lock(&s, "images", argv[i], NULL, &e)) < 0)
		die_err(&e);
	if (image_meta_read(dir, &old, &e) == 0 && !force)
		die(EXIT_BUSY, "%s: already exists (%s) — use -f to replace it", argv[i],
		    old.source);
	err_init(&e);
	store_sweep_staging(&s, "images", argv[i]);
	memset(&m, 0, sizeof(m));
	if (store_staging(&s, "images", argv[i], staging, sizeof(staging), &e) < 0 ||
	    path_join(dst, sizeof(dst), staging, "rootfs.ext4", &e) < 0)
		die_err(&e);
	if (copy_file(abs, dst, &e) < 0 || sha256_file(dst, hex, &e) < 0)
		goto fail;
	snprintf(m.name, sizeof(m.name), "%s", argv[i]);
	snprintf(m.source, sizeof(m.source), "import:%s", abs);
	snprintf(m.digest, sizeof(m.digest), "sha256:%s", hex);
	m.size = (uint64_t)st.st_size;
	image_now(m.created);
	if (image_meta_write(staging, &m, &e) < 0 || file_commit_dir(staging, dir, &e) < 0)
		goto fail;
	lock_release(lock);
	puts(argv[i]);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
fail:
	path_remove_tree(staging, &(struct err){ 0 });
	die_err(&e);
}
