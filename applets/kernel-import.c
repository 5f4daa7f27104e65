/* kernel-import — register a local kernel in the store.
 *
 * Its usage, the text --help prints, is kernel_import_usage[] below.
 */
#include "applet.h"
#include "catalog/bundle.h"
#include "err.h"
#include "exitcode.h"
#include "kernel/kernel.h"
#include "log.h"
#include "path.h"
#include "store.h"
#include "xfuncs.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

const char kernel_import_usage[] =
	"usage: kernel-import [-f] NAME (--vmlinux PATH | --vmlinuz PATH)\n"
	"                     [--modules DIR] [--initrd PATH]\n"
	"\n"
	"Installs BANGER_HOME/kernels/NAME from local files. Firecracker boots an\n"
	"ELF vmlinux: given a compressed vmlinuz (bzImage), banger cuts the ELF\n"
	"out of it (gzip, xz, lzma, zstd, lz4; bzip2 and lzo through the bzip2\n"
	"and lzop programs) and checks it.\n"
	"\n"
	"  --vmlinux PATH    an ELF kernel, copied as is\n"
	"  --vmlinuz PATH    a bzImage, from which the ELF is extracted\n"
	"  --modules DIR     a root holding lib/modules/, or one lib/modules/VERSION\n"
	"  --initrd PATH     an initramfs to keep beside it (initrd.img)\n"
	"  -f, --force       replace an installed kernel of that name\n"
	"\n"
	"Exit: 0 imported, 5 not a usable kernel, 7 a file is missing, 8 NAME exists.\n"
	"\n"
	"examples:\n"
	"  banger kernel import mine --vmlinux ./vmlinux\n"
	"  banger kernel import mine --vmlinuz /boot/vmlinuz-$(uname -r)\n";

static struct {
	const char *name;
	struct kernel_import in;
} imp;

static const struct option opts[] = {
	{ "vmlinux", required_argument, NULL, 'L' }, { "vmlinuz", required_argument, NULL, 'Z' },
	{ "modules", required_argument, NULL, 'M' }, { "initrd", required_argument, NULL, 'I' },
	{ "force", no_argument, NULL, 'f' },	     { NULL, 0, NULL, 0 },
};

int kernel_import_main(int argc, char **argv)
{
	enum bundle_outcome outcome;
	char dir[LIMIT_PATH];
	struct store st;
	struct err e;
	cJSON *m;
	const cJSON *v;
	int o;

	err_init(&e);
	while ((o = xgetopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (o == 'f')
			imp.in.force = true;
		else if (o == 'L')
			imp.in.vmlinux = optarg;
		else if (o == 'Z')
			imp.in.vmlinuz = optarg;
		else if (o == 'M')
			imp.in.modules = optarg;
		else if (o == 'I')
			imp.in.initrd = optarg;
	}
	for (int i = optind; i < argc; i++) {
		if (imp.name)
			die_usage("one kernel at a time (got %s and %s)", imp.name, argv[i]);
		imp.name = argv[i];
	}
	if (!imp.name)
		die_usage("name the kernel to import");
	if (!imp.in.vmlinux == !imp.in.vmlinuz)
		die_usage("give exactly one of --vmlinux PATH or --vmlinuz PATH");
	if (store_init(&st, &e) < 0 || kernel_import(&st, imp.name, &imp.in, &outcome, &e) < 0)
		die_err(&e);
	printf("%s: imported", imp.name);
	if (store_object_dir(&st, KERNEL_KIND, imp.name, dir, sizeof(dir), &e) == 0 &&
	    (m = bundle_read_manifest(dir, &e))) {
		v = cJSON_GetObjectItemCaseSensitive(m, "kernel_version");
		if (cJSON_IsString(v) && *v->valuestring)
			printf(" (%s)", v->valuestring);
		cJSON_Delete(m);
	}
	printf("\n");
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}
