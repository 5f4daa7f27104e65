/* snapshot-list — the snapshots in BANGER_HOME/snapshots, what each is of and its size.
 *
 * Its usage, the text --help prints, is snapshot_list_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "log.h"
#include "path.h"
#include "store.h"
#include "units.h"
#include "vm/snapshot.h"
#include "xfuncs.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char snapshot_list_usage[] =
	"usage: snapshot-list [-q] [--json]\n"
	"\n"
	"One line a snapshot: NAME, the VM it was taken of, VMM, IMAGE, KERNEL,\n"
	"CPUS, MEMORY, SIZE (the disk space its own files take: the base image it\n"
	"shares is not counted) and CREATED (UTC). Nothing is verified here;\n"
	"'vm start --from' checks every file. -q prints the names only. --json\n"
	"prints an array of the manifests (docs/snapshots.md) with \"size_bytes\".\n"
	"\n"
	"examples:\n"
	"  banger snapshot list\n"
	"  banger snapshot list --json | jq -r '.[] | select(.vm == \"web\") | .name'\n";

static int simple(const struct dirent *d)
{
	return path_is_simple_name(d->d_name);
}

int snapshot_list_main(int argc, char **argv)
{
	char dir[LIMIT_PATH];
	struct dirent **ents = NULL;
	bool json = false, names_only = false;
	cJSON *arr = NULL;
	struct store s;
	struct err e;
	int n;

	err_init(&e);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "-q"))
			names_only = true;
		else
			die_usage("unknown argument '%s'", argv[i]);
	}
	if (store_init(&s, &e) < 0 || path_join(dir, sizeof(dir), s.home, "snapshots", &e) < 0)
		die_err(&e);
	if ((n = scandir(dir, &ents, simple, alphasort)) < 0) {
		if (errno != ENOENT)
			die(EXIT_SYSTEM, "%s: %s", dir, strerror(errno));
		n = 0;
	}
	if (json && !(arr = cJSON_CreateArray()))
		die(EXIT_SYSTEM, "out of memory");
	if (!json && !names_only)
		printf("%-24s %-16s %-12s %-16s %-12s %4s %7s %8s %s\n", "NAME", "VM", "VMM",
		       "IMAGE", "KERNEL", "CPUS", "MEMORY", "SIZE", "CREATED");
	for (int i = 0; i < n; i++) {
		char sdir[LIMIT_PATH], size[32], mem[16], when[32];
		struct snap_manifest m;
		uint64_t bytes;
		time_t t;
		struct tm tm;

		err_init(&e);
		if (snap_manifest_load(&s, ents[i]->d_name, sdir, sizeof(sdir), &m, &e) < 0) {
			log_warn("%s", e.msg);
			free(ents[i]);
			continue;
		}
		bytes = snap_own_bytes(sdir, &m, NULL);
		if (json) {
			char *text = snap_manifest_to_json(&m, &e);
			cJSON *o = text ? cJSON_Parse(text) : NULL;

			free(text);
			if (!o || !cJSON_AddNumberToObject(o, "size_bytes", (double)bytes))
				die(EXIT_SYSTEM, "out of memory");
			cJSON_AddItemToArray(arr, o);
		} else if (names_only) {
			printf("%s\n", m.name);
		} else {
			t = (time_t)m.created;
			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			format_size(bytes, size, sizeof(size));
			snprintf(mem, sizeof(mem), "%dM", m.mem_mib);
			printf("%-24s %-16s %-12s %-16s %-12s %4d %7s %8s %s\n", m.name, m.vm,
			       m.vmm, m.image, m.kernel, m.cpus, mem, size, when);
		}
		free(ents[i]);
	}
	free(ents);
	if (json)
		xprint_json(arr);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}
