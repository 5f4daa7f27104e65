/* kernel-pack — make a kernel bundle to publish, and its catalog entry.
 *
 * Its usage, the text --help prints, is kernel_pack_usage[] below.
 */
#include "applet.h"
#include "catalog/bundle.h"
#include "catalog/catalog.h"
#include "err.h"
#include "exitcode.h"
#include "path.h"
#include "kernel/vmlinux.h"
#include "xfuncs.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char kernel_pack_usage[] =
	"usage: kernel-pack [-o OUTDIR] [--catalog FILE] [--arch A] [--distro D]\n"
	"                   [--kernel-version V] [--url URL] DIR NAME\n"
	"\n"
	"Packs DIR's vmlinux (an ELF), and initrd.img and modules/ when present,\n"
	"into OUTDIR/NAME-ARCH.tar.zst (default OUTDIR: the current directory),\n"
	"deterministically: sorted entries, mtime 0, owner 0, zstd level 19. DIR\n"
	"may be an installed kernel (BANGER_HOME/kernels/NAME): its manifest\n"
	"supplies the defaults. Prints \"SHA256 SIZE PATH\".\n"
	"\n"
	"  --catalog FILE       add or replace NAME in this catalog file (created\n"
	"                       if missing; entries sorted by name)\n"
	"  --arch A             default: from the manifest, else the ELF (x86_64)\n"
	"  --distro D           default: from the manifest\n"
	"  --kernel-version V   default: from the manifest, else the one\n"
	"                       modules/lib/modules/VERSION\n"
	"  --url URL            the entry's url (default: the bundle's file name,\n"
	"                       relative to the catalog: keep them side by side)\n"
	"\n"
	"examples:\n"
	"  banger kernel pack -o dist debian-cloud\n"
	"  banger kernel pack --catalog dist/kernels.json debian-cloud\n";

static struct {
	const char *dir, *name, *outdir, *catalog, *arch, *distro, *kver, *url;
} pk;

/* "x86_64" or "aarch64" from the ELF header of DIR/vmlinux; dies if it is
 * not a kernel. */
static const char *elf_arch(const char *dir)
{
	char path[LIMIT_PATH], head[64];
	struct err e;
	ssize_t n;
	int fd;

	err_init(&e);
	if (path_join(path, sizeof(path), dir, "vmlinux", &e) < 0)
		die_err(&e);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(EXIT_USAGE,
		    "%s: no vmlinux — DIR must hold an ELF vmlinux (kernel-import "
		    "makes one from a vmlinuz)",
		    dir);
	n = read(fd, head, sizeof(head));
	close(fd);
	if (vmlinux_check_elf(head, n < 0 ? 0 : (size_t)n, path, &e) < 0)
		die_err(&e);
	return head[18] == (char)183 ? "aarch64" : "x86_64";
}

/* The one lib/modules/VERSION under DIR/modules, or NULL. */
static char *modules_version(const char *dir)
{
	char path[LIMIT_PATH];
	struct dirent *de;
	char *v = NULL;
	DIR *d;

	if (snprintf(path, sizeof(path), "%s/modules/lib/modules", dir) >= (int)sizeof(path) ||
	    !(d = opendir(path)))
		return NULL;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && !v)
			v = xstrdup(de->d_name);
	closedir(d);
	return v;
}

static const char *from_manifest(const cJSON *m, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);

	return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

static const struct option opts[] = {
	{ "catalog", required_argument, NULL, 'c' },
	{ "arch", required_argument, NULL, 'a' },
	{ "distro", required_argument, NULL, 'd' },
	{ "url", required_argument, NULL, 'u' },
	{ "kernel-version", required_argument, NULL, 'k' },
	{ NULL, 0, NULL, 0 },
};

int kernel_pack_main(int argc, char **argv)
{
	static const char *const only[] = { "vmlinux", "initrd.img", "modules", NULL };
	struct catalog_entry ent = { 0 };
	char out[LIMIT_PATH], file[LIMIT_NAME + 1];
	const char *arch;
	uint64_t size;
	struct err e;
	cJSON *m;
	int o;

	err_init(&e);
	while ((o = xgetopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		const char **slot = o == 'o'   ? &pk.outdir
				    : o == 'c' ? &pk.catalog
				    : o == 'a' ? &pk.arch
				    : o == 'd' ? &pk.distro
				    : o == 'k' ? &pk.kver
					       : &pk.url;

		*slot = optarg;
	}
	for (int i = optind; i < argc; i++) {
		if (!pk.dir)
			pk.dir = argv[i];
		else if (!pk.name)
			pk.name = argv[i];
		else
			die_usage("too many arguments: %s", argv[i]);
	}
	if (!pk.dir || !pk.name)
		die_usage("give the kernel directory and the bundle's NAME");
	if (!path_is_simple_name(pk.name))
		die_usage("'%s' is not a valid name (letters, digits, '.', '_', '-')", pk.name);
	arch = elf_arch(pk.dir);
	m = bundle_read_manifest(pk.dir, &e); /* optional */
	if (!pk.arch)
		pk.arch = from_manifest(m, "arch") ? from_manifest(m, "arch") : arch;
	if (!pk.distro)
		pk.distro = from_manifest(m, "distro") ? from_manifest(m, "distro") : "";
	if (!pk.kver)
		pk.kver = from_manifest(m, "kernel_version") ? from_manifest(m, "kernel_version")
							     : modules_version(pk.dir);
	if (!path_is_simple_name(pk.arch))
		die_usage("'%s' is not a valid arch", pk.arch);
	snprintf(file, sizeof(file), "%s-%s.tar.zst", pk.name, pk.arch);
	err_init(&e);
	if (path_join(out, sizeof(out), pk.outdir ? pk.outdir : ".", file, &e) < 0 ||
	    bundle_pack_only(pk.dir, only, out, ent.sha256, &size, &e) < 0)
		die_err(&e);
	printf("%s %llu %s\n", ent.sha256, (unsigned long long)size, out);
	if (pk.catalog) {
		ent.name = pk.name;
		ent.kind = CATALOG_BUNDLE;
		ent.arch = pk.arch;
		ent.distro = pk.distro;
		ent.kernel_version = pk.kver ? pk.kver : "";
		ent.url = pk.url ? pk.url : file;
		ent.size = size;
		if (catalog_file_upsert(pk.catalog, &ent, &e) < 0)
			die_err(&e);
	}
	cJSON_Delete(m);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}
