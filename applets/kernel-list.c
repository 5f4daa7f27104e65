/* kernel-list — the kernels installed here, or those a catalog offers.
 *
 * Its usage, the text --help prints, is kernel_list_usage[] below.
 */
#include "applet.h"
#include "catalog/bundle.h"
#include "catalog/catalog.h"
#include "err.h"
#include "exitcode.h"
#include "kernel/kernel.h"
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
#include <sys/stat.h>

const char kernel_list_usage[] =
	"usage: kernel-list [--json] [--catalog [URL|PATH]]\n"
	"\n"
	"Without options: one line per installed kernel (NAME VERSION DISTRO ARCH\n"
	"KIND). With --catalog: one line per catalog entry (NAME KIND VERSION\n"
	"DISTRO ARCH SIZE), marked '*' when installed; the catalog is the one\n"
	"given, else $BANGER_KERNEL_CATALOG, else the built-in one. A deb entry's\n"
	"version is known only once pulled (\"-\"). --json prints an array instead:\n"
	"the installed kernels' manifest.json documents, or the catalog's entries\n"
	"({name, kind, kernel_version, distro, arch, size, installed}).\n"
	"\n"
	"examples:\n"
	"  banger kernel list\n"
	"  banger kernel list --catalog\n"
	"  banger kernel list --json | jq -r '.[].name'\n";

static const char *str(const cJSON *m, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);

	return cJSON_IsString(v) && *v->valuestring ? v->valuestring : "-";
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool installed(const struct store *s, const char *name)
{
	char dir[LIMIT_PATH], path[LIMIT_PATH];
	struct stat st;
	struct err e;

	err_init(&e);
	return store_object_dir(s, KERNEL_KIND, name, dir, sizeof(dir), &e) == 0 &&
	       snprintf(path, sizeof(path), "%s/manifest.json", dir) < (int)sizeof(path) &&
	       stat(path, &st) == 0;
}

static struct {
	cJSON *json; /* NULL: the table */
} out;

static void add_json(cJSON *o)
{
	if (!o || !cJSON_AddItemToArray(out.json, o))
		die(EXIT_SYSTEM, "out of memory");
}

static int list_local(const struct store *s)
{
	char dir[LIMIT_PATH], obj[LIMIT_PATH];
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct err e;
	DIR *d;

	err_init(&e);
	if (path_join(dir, sizeof(dir), s->home, KERNEL_KIND, &e) < 0)
		die_err(&e);
	d = opendir(dir);
	if (!d)
		return EXIT_OK; /* nothing pulled yet */
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !installed(s, de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		cJSON *m;

		if (store_object_dir(s, KERNEL_KIND, names[i], obj, sizeof(obj), &e) < 0 ||
		    !(m = bundle_read_manifest(obj, &e))) {
			if (out.json)
				log_warn("%s: unreadable manifest: %s", names[i], e.msg);
			else
				printf("%-24s (unreadable manifest: %s)\n", names[i], e.msg);
		} else if (out.json) {
			add_json(m);
		} else {
			char v[4 * 64], dis[4 * 64], a[4 * 32], k[4 * 32]; /* outside text */

			printf("%-24s %-28s %-12s %-8s %s\n", names[i],
			       log_escape(str(m, "kernel_version"), v, sizeof(v)),
			       log_escape(str(m, "distro"), dis, sizeof(dis)),
			       log_escape(str(m, "arch"), a, sizeof(a)),
			       log_escape(str(m, "kind"), k, sizeof(k)));
			cJSON_Delete(m);
		}
		free(names[i]);
	}
	free(names);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}

static int list_catalog(const struct store *s, const char *src)
{
	struct catalog c;
	struct err e;

	err_init(&e);
	if (catalog_load(&c, CATALOG_KERNELS, src, &e) < 0)
		die_err(&e);
	for (size_t i = 0; i < c.n; i++) {
		const struct catalog_entry *k = &c.entries[i];
		char size[32] = "-";

		if (out.json) {
			cJSON *o = cJSON_CreateObject();

			if (!o || !cJSON_AddStringToObject(o, "name", k->name) ||
			    !cJSON_AddStringToObject(o, "kind", catalog_kind_name(k->kind)) ||
			    !cJSON_AddStringToObject(o, "kernel_version", k->kernel_version) ||
			    !cJSON_AddStringToObject(o, "distro", k->distro) ||
			    !cJSON_AddStringToObject(o, "arch", k->arch) ||
			    !cJSON_AddNumberToObject(o, "size", (double)k->size) ||
			    !cJSON_AddBoolToObject(o, "installed", installed(s, k->name)))
				die(EXIT_SYSTEM, "out of memory");
			add_json(o);
			continue;
		}
		if (k->kind == CATALOG_BUNDLE)
			format_size(k->size, size, sizeof(size));
		char v[4 * 64], d[4 * 64], a[4 * 32]; /* catalog fields: outside text */

		printf("%s %-22s %-6s %-28s %-12s %-8s %s\n", installed(s, k->name) ? "*" : " ",
		       k->name, catalog_kind_name(k->kind),
		       log_escape(*k->kernel_version ? k->kernel_version : "-", v, sizeof(v)),
		       log_escape(*k->distro ? k->distro : "-", d, sizeof(d)),
		       log_escape(k->arch, a, sizeof(a)), size);
	}
	catalog_fini(&c);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}

int kernel_list_main(int argc, char **argv)
{
	struct store s;
	struct err e;
	bool cat = false;
	const char *src = NULL;
	int rc;

	err_init(&e);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			if (!out.json && !(out.json = cJSON_CreateArray()))
				die(EXIT_SYSTEM, "out of memory");
		} else if (!strcmp(argv[i], "--catalog")) {
			cat = true;
			if (i + 1 < argc && argv[i + 1][0] != '-')
				src = argv[++i];
		} else {
			die_usage("unknown argument: %s", argv[i]);
		}
	}
	if (store_init(&s, &e) < 0)
		die_err(&e);
	store_sweep(&s, "kernels"); /* what killed pulls left */
	rc = cat ? list_catalog(&s, src) : list_local(&s);
	if (out.json) {
		char *text = cJSON_Print(out.json);

		if (!text)
			die(EXIT_SYSTEM, "out of memory");
		printf("%s\n", text);
		free(text);
		cJSON_Delete(out.json);
		if (fflush(stdout))
			rc = EXIT_SYSTEM;
	}
	return rc;
}
