/* image-list — the images in BANGER_HOME/images.
 *
 * Its usage, the text --help prints, is image_list_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "oci/image.h"
#include "log.h"
#include "path.h"
#include "progress.h"
#include "store.h"
#include "xfuncs.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char image_list_usage[] =
	"usage: image-list [--json]\n"
	"       image-list --packages NAME\n"
	"\n"
	"One line an image: NAME (the alias vm run --image takes), SIZE, PLATFORM,\n"
	"DIGEST (the manifest digest it holds) and SOURCE (the normalised reference\n"
	"it was pulled from: its identity). With --json, an array of the images'\n"
	"manifest.json documents. --packages prints the package set of an image\n"
	"built from the Debian archive, one \"PACKAGE VERSION ARCH SHA256\" a line\n"
	"(its sha256 is the image's digest).\n"
	"\n"
	"examples:\n"
	"  banger image list\n"
	"  banger image list --json | jq -r '.[].digest'\n"
	"  banger image list --packages debian-bookworm\n";

/* images/NAME/packages.txt to stdout. */
static int packages(const char *name)
{
	char dir[LIMIT_PATH], path[LIMIT_PATH];
	struct store s;
	struct err e;
	char *text;
	size_t len;

	err_init(&e);
	if (store_init(&s, &e) < 0 ||
	    store_object_dir(&s, "images", name, dir, sizeof(dir), &e) < 0 ||
	    path_join(path, sizeof(path), dir, "packages.txt", &e) < 0)
		die_err(&e);
	if (file_read_all(path, 16 << 20, &text, &len, &e) < 0) {
		if (e.code == EXIT_NOTFOUND)
			die(EXIT_NOTFOUND,
			    "%s: no package list — only images built from the Debian archive have "
			    "one ('image-list' shows what is installed)",
			    name);
		die_err(&e);
	}
	fwrite(text, 1, len, stdout);
	free(text);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int image_list_main(int argc, char **argv)
{
	struct store s;
	struct err e;
	struct dirent **ents = NULL;
	char kind[LIMIT_PATH];
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	cJSON *arr = cJSON_CreateArray();
	int n;

	if (argc == 3 && !strcmp(argv[1], "--packages"))
		return packages(argv[2]);
	if (argc > 2 || (argc == 2 && !json))
		die_usage("unknown argument '%s'", argv[1]);
	err_init(&e);
	if (!arr)
		die(EXIT_SYSTEM, "out of memory");
	if (store_init(&s, &e) < 0 || path_join(kind, sizeof(kind), s.home, "images", &e) < 0)
		die_err(&e);
	store_sweep(&s, "images"); /* what killed pulls left */
	n = scandir(kind, &ents, NULL, by_name);
	if (!json && n > 0)
		printf("%-24s %10s %-14s %-71s %s\n", "NAME", "SIZE", "PLATFORM", "DIGEST",
		       "SOURCE");
	for (int i = 0; i < n; i++) {
		struct image_meta m;
		char dir[LIMIT_PATH], sz[32], name[65];

		snprintf(name, sizeof(name), "%.64s", ents[i]->d_name);
		if (ents[i]->d_name[0] == '.' || !path_is_simple_name(ents[i]->d_name) ||
		    path_join(dir, sizeof(dir), kind, ents[i]->d_name, &e) < 0 ||
		    image_meta_read(dir, &m, &e) < 0) {
			free(ents[i]);
			continue;
		}
		free(ents[i]);
		if (json) {
			char path[LIMIT_PATH + 16], *text;
			size_t len;
			cJSON *j;

			if (path_join(path, sizeof(path), dir, "manifest.json", &e) == 0 &&
			    file_read_all(path, LIMIT_JSON_DOC, &text, &len, &e) == 0) {
				j = cJSON_Parse(text);
				free(text);
				if (j)
					cJSON_AddItemToArray(arr, j);
			}
			continue;
		}
		format_size(m.size, sz, sizeof(sz));
		char plat[4 * sizeof(m.platform)], src[4 * sizeof(m.source)]; /* outside text */

		printf("%-24s %10s %-14s %-71s %s\n", name, sz,
		       log_escape(m.platform[0] ? m.platform : "-", plat, sizeof(plat)),
		       m.digest[0] ? m.digest : "-", log_escape(m.source, src, sizeof(src)));
	}
	free(ents);
	if (json) {
		char *text = cJSON_Print(arr);

		if (!text)
			die(EXIT_SYSTEM, "out of memory");
		puts(text);
		free(text);
	}
	cJSON_Delete(arr);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}
