/* vm-diff — list what a microVM changed in its disk, as docker diff does.
 *
 * Its usage, the text --help prints, is vm_diff_usage[] below. The work is
 * vm_diff (lib/vm/commit.h), reading the VM's layer with lib/ext4/read.h.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "log.h"
#include "store.h"
#include "vm/commit.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char vm_diff_usage[] =
	"usage: vm-diff [--json] NAME\n"
	"\n"
	"Lists what the VM changed in its disk against its image, one line a path,\n"
	"sorted: \"A PATH\" added, \"C PATH\" changed (content, owner, mode or\n"
	"times, or a directory something below changed in), \"D PATH\" deleted (a\n"
	"deleted directory is one line). Read from the VM's own layer\n"
	"(vms/NAME/upper.ext4) beside its image's disk, neither mounted nor\n"
	"written. A running VM is read as its guest last wrote the disk: a notice\n"
	"on stderr says that what is only in the guest's page cache is missing (run\n"
	"sync in the guest first). --json prints an array of {\"path\", \"kind\"}.\n"
	"A VM with a flat disk (--disk copy) has no layer: exit 2.\n"
	"\n"
	"examples:\n"
	"  banger vm diff web\n"
	"  banger vm diff --json web | jq -r '.[] | select(.kind == \"A\") | .path'\n";

static void print_json(const struct vm_changes *ch)
{
	cJSON *arr = cJSON_CreateArray();
	char *text;

	if (!arr)
		die(EXIT_SYSTEM, "out of memory");
	for (size_t i = 0; i < ch->n; i++) {
		cJSON *o = cJSON_CreateObject();
		char kind[2] = { ch->v[i].kind, '\0' };

		if (!o || !cJSON_AddItemToArray(arr, o) ||
		    !cJSON_AddStringToObject(o, "path", ch->v[i].path) ||
		    !cJSON_AddStringToObject(o, "kind", kind))
			die(EXIT_SYSTEM, "out of memory");
	}
	if (!(text = cJSON_Print(arr)))
		die(EXIT_SYSTEM, "out of memory");
	printf("%s\n", text);
	free(text);
	cJSON_Delete(arr);
}

int vm_diff_main(int argc, char **argv)
{
	static const struct option longopts[] = { { "json", no_argument, NULL, 'j' },
						  { NULL, 0, NULL, 0 } };
	struct vm_changes ch;
	struct vm_config c;
	struct vm_paths p;
	struct store s;
	struct err e;
	bool json = false, running;
	int o;

	err_init(&e);
	while ((o = xgetopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (o != 'j')
			die_usage("unknown option");
		json = true;
	}
	if (optind + 1 != argc)
		die_usage("give the name of one VM");
	if (store_init(&s, &e) < 0 || vm_paths_init(&s, argv[optind], &p, &e) < 0 ||
	    vm_config_load(&p, &c, &e) < 0 || vm_diff(&p, &c, &ch, &running, &e) < 0)
		die_err(&e);
	if (running)
		log_warn("%s is running: this is what its guest has written to the disk so far "
			 "(what is only in its page cache is missing; sync in the guest first)",
			 argv[optind]);
	if (json)
		print_json(&ch);
	else
		for (size_t i = 0; i < ch.n; i++)
			printf("%c %s\n", ch.v[i].kind, ch.v[i].path);
	vm_changes_fini(&ch);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}
