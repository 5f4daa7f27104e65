/* image-pack — make an image bundle to publish, and its catalog entry.
 *
 * Its usage, the text --help prints, is image_pack_usage[] below.
 */
#include "applet.h"
#include "catalog/catalog.h"
#include "err.h"
#include "exitcode.h"
#include "oci/image.h"
#include "lock.h"
#include "path.h"
#include "store.h"
#include "xfuncs.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

const char image_pack_usage[] =
	"usage: image-pack [-o OUTDIR] [--catalog FILE] [--url URL] NAME\n"
	"\n"
	"Packs the installed image NAME (rootfs.ext4 and manifest.json) into\n"
	"OUTDIR/NAME-ARCH-SHA256PREFIX.tar.zst (default OUTDIR: the current\n"
	"directory), deterministically: sorted entries, mtime 0, owner 0, zstd\n"
	"level 19. The file name holds the first 12 hex digits of its own sha256.\n"
	"Prints \"SHA256 SIZE PATH\".\n"
	"\n"
	"  --catalog FILE   add or replace NAME in this catalog file (created if\n"
	"                   missing; entries sorted by name)\n"
	"  --url URL        the entry's url (default: the bundle's file name,\n"
	"                   relative to the catalog: keep them side by side)\n"
	"\n"
	"examples:\n"
	"  banger image pack -o dist debian-bookworm\n"
	"  banger image pack --catalog dist/images.json --url https://example.org/b "
	"debian-bookworm\n";

/* "x86_64" for linux/amd64, "aarch64" for linux/arm64. */
static const char *arch_of(const char *platform)
{
	const char *a = strchr(platform, '/');

	a = a ? a + 1 : platform;
	if (!strncmp(a, "arm64", 5))
		return "aarch64";
	if (!strncmp(a, "amd64", 5) || !*a)
		return "x86_64";
	return a;
}

static const struct option opts[] = {
	{ "catalog", required_argument, NULL, 'c' },
	{ "url", required_argument, NULL, 'u' },
	{ NULL, 0, NULL, 0 },
};

int image_pack_main(int argc, char **argv)
{
	const char *name = NULL, *outdir = ".", *catalog = NULL, *url = NULL, *arch;
	char dir[LIMIT_PATH], file[LIMIT_NAME + 1], out[LIMIT_PATH], sha[DIGEST_HEX_LEN + 1];
	struct catalog_entry ent = { 0 };
	struct image_meta m;
	struct store s;
	struct err e;
	uint64_t size;
	int lock, o;

	err_init(&e);
	while ((o = xgetopt_long(argc, argv, "o:", opts, NULL)) != -1)
		*(o == 'o' ? &outdir : o == 'c' ? &catalog : &url) = optarg;
	for (int i = optind; i < argc; i++) {
		if (name)
			die_usage("one image at a time (got %s and %s)", name, argv[i]);
		name = argv[i];
	}
	if (!name)
		die_usage("which image? 'image-list' shows them");
	if (store_init(&s, &e) < 0 ||
	    store_object_dir(&s, "images", name, dir, sizeof(dir), &e) < 0 ||
	    (lock = store_lock(&s, "images", name, NULL, &e)) < 0)
		die_err(&e);
	if (image_meta_read(dir, &m, &e) < 0) {
		if (e.code == EXIT_NOTFOUND)
			die(EXIT_NOTFOUND, "%s: no such image — see image-list", name);
		die_err(&e);
	}
	arch = arch_of(m.platform);
	if (!path_is_simple_name(arch))
		die(EXIT_VERIFY, "%s: platform '%s' gives no usable arch", name, m.platform);
	if (image_pack(dir, name, arch, outdir, file, sizeof(file), sha, &size, &e) < 0 ||
	    path_join(out, sizeof(out), outdir, file, &e) < 0)
		die_err(&e);
	lock_release(lock);
	printf("%s %llu %s\n", sha, (unsigned long long)size, out);
	if (catalog) {
		ent.name = name;
		ent.kind = CATALOG_BUNDLE;
		ent.arch = arch;
		ent.distro = "";
		ent.kernel_version = "";
		ent.description = m.source;
		ent.url = url ? url : file;
		ent.size = size;
		memcpy(ent.sha256, sha, sizeof(sha));
		if (catalog_file_upsert(catalog, &ent, &e) < 0)
			die_err(&e);
	}
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}
