/* image-prune — give back the space of cached blobs (and, with -a, images) nothing uses.
 *
 * Its usage, the text --help prints, is image_prune_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "log.h"
#include "store.h"
#include "units.h"
#include "vm/prune.h"
#include "xfuncs.h"

#include <stdio.h>
#include <unistd.h>

const char image_prune_usage[] =
	"usage: image-prune [-an]\n"
	"\n"
	"Removes the layer blobs in BANGER_HOME/oci/blobs that no installed image\n"
	"was built from (each pull records its layers in images/NAME/layers), and\n"
	"what interrupted pulls left. One line a removed thing on stdout (KIND\n"
	"NAME SIZE), then the total. Refused (exit 8) while a pull is running.\n"
	"An image pulled by an older banger, without a layers file, keeps every\n"
	"blob (said on stderr: pull it again to record them).\n"
	"\n"
	"  -a  also remove the images no VM uses (vm run pulls them again)\n"
	"  -n  say what would go, remove nothing\n"
	"\n"
	"examples:\n"
	"  banger image prune\n"
	"  banger image prune -a -n\n"
	"  banger image prune -a\n";

static void print(void *ctx, const char *what, const char *name, uint64_t bytes)
{
	char line[LIMIT_PATH];

	(void)ctx;
	prune_line(line, sizeof(line), what, name, bytes);
	puts(line);
}

/* image-prune and kernel-prune take the same options and print the same way. */
int prune_applet(int argc, char **argv, bool images)
{
	struct prune_opts o = { .fn = print };
	char unlisted[65] = "", size[32];
	uint64_t freed;
	struct store s;
	struct err e;
	int c;

	err_init(&e);
	while ((c = xgetopt(argc, argv, "an")) != -1) {
		if (c == 'a')
			o.all = true;
		else if (c == 'n')
			o.dry_run = true;
		else
			die_usage("unknown option");
	}
	if (optind != argc)
		die_usage("no arguments: '%s [-an]'", argv[0]);
	if (store_init(&s, &e) < 0 || (images ? prune_images(&s, &o, &freed, unlisted, &e)
					      : prune_kernels(&s, &o, &freed, &e)) < 0)
		die_err(&e);
	if (unlisted[0])
		log_warn("image '%s' has no layers file (pulled by an older banger): every blob is "
			 "kept — pull it again with --force to record its layers",
			 unlisted);
	format_size(freed, size, sizeof(size));
	printf("total %s %s\n", o.dry_run ? "would free" : "freed", size);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}

int image_prune_main(int argc, char **argv)
{
	return prune_applet(argc, argv, true);
}
