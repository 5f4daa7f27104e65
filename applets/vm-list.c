/* vm-list — list microVMs and their state, noticing VMs whose VMM died.
 *
 * Its usage, the text --help prints, is vm_list_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "log.h"
#include "path.h"
#include "store.h"
#include "vm/pause.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char vm_list_usage[] =
	"usage: vm-list [-q] [--json]\n"
	"\n"
	"One line a VM: NAME STATE VMM ADDRESS CPUS MEMORY IMAGE KERNEL. STATE is\n"
	"created, running, paused (vm pause: its VMM says the vCPUs are stopped),\n"
	"stopped, or dead: recorded as running but its VMM process is gone (a\n"
	"note on stderr says so and how to look). -q prints\n"
	"only the names, one a line. --json prints an array of objects\n"
	"(config.json's fields plus \"state\" and \"pid\"). vm-ps is the same.\n"
	"\n"
	"examples:\n"
	"  banger vm list\n"
	"  banger vm list --json | jq -r '.[] | select(.state == \"running\") | .name'\n"
	"  banger vm list -q\n";

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int vm_list_main(int argc, char **argv)
{
	char dir[LIMIT_PATH], **names = NULL;
	size_t n = 0;
	bool json = false, names_only = false;
	cJSON *arr = NULL;
	struct dirent *de;
	struct store s;
	struct err e;
	DIR *d;

	err_init(&e);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "-q"))
			names_only = true;
		else
			die_usage("unknown argument '%s'", argv[i]);
	}
	if (store_init(&s, &e) < 0 || path_join(dir, sizeof(dir), s.home, "vms", &e) < 0)
		die_err(&e);
	if ((d = opendir(dir))) {
		while ((de = readdir(d)))
			if (path_is_simple_name(de->d_name)) {
				names = xrealloc(names, (n + 1) * sizeof(*names));
				names[n++] = xstrdup(de->d_name);
			}
		closedir(d);
	} else if (errno != ENOENT) {
		die(EXIT_SYSTEM, "%s: %s", dir, strerror(errno));
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp);
	if (json)
		arr = cJSON_CreateArray();
	else if (!names_only)
		printf("%-20s %-8s %-12s %-15s %4s %7s %-16s %s\n", "NAME", "STATE", "VMM",
		       "ADDRESS", "CPUS", "MEMORY", "IMAGE", "KERNEL");
	for (size_t i = 0; i < n; i++) {
		struct vm_config c;
		struct vm_paths p;
		enum vm_status st;
		const char *shown;
		pid_t pid;

		err_init(&e);
		if (vm_paths_init(&s, names[i], &p, &e) < 0 || vm_config_load(&p, &c, &e) < 0) {
			log_warn("%s", e.msg);
			free(names[i]);
			continue;
		}
		st = vm_status_get(&p, &pid);
		shown = names_only ? "" : vm_state_shown(&p, &c, st);
		if (st == VM_DEAD)
			log_warn("%s: its VMM (pid %d) died — see 'banger vm logs %s', then "
				 "'banger vm start %s'",
				 c.name, (int)pid, c.name, c.name);
		if (json) {
			char *text = vm_config_to_json(&c, &e);
			cJSON *o = text ? cJSON_Parse(text) : NULL;

			free(text);
			if (!o || !cJSON_AddStringToObject(o, "state", shown) ||
			    !cJSON_AddNumberToObject(o, "pid", st == VM_RUNNING ? pid : 0))
				die(EXIT_SYSTEM, "out of memory");
			cJSON_AddItemToArray(arr, o);
		} else if (names_only) {
			printf("%s\n", c.name);
		} else {
			char mem[16];

			snprintf(mem, sizeof(mem), "%dM", c.mem_mib);
			printf("%-20s %-8s %-12s %-15s %4d %7s %-16s %s\n", c.name, shown, c.vmm,
			       strcmp(c.net, "tap") ? c.net : c.ip, c.cpus, mem, c.image, c.kernel);
		}
		free(names[i]);
	}
	free(names);
	if (json)
		xprint_json(arr);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}
