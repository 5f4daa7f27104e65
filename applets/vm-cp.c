/* vm-cp — copy a file into or out of a running microVM through its guest agent.
 *
 * Its usage, the text --help prints, is vm_cp_usage[] below.
 */
#include "applet.h"
#include "agent/agent.h"
#include "err.h"
#include "exitcode.h"
#include "path.h"
#include "store.h"
#include "units.h"
#include "vm/copy.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char vm_cp_usage[] =
	"usage: vm-cp [-m MODE] SRC DST\n"
	"\n"
	"Like docker cp. One of SRC and DST is NAME:PATH, a path in VM NAME; the\n"
	"other a local path, or '-' for a tar stream on stdin or stdout. Files and\n"
	"directories both ways: into an existing directory the source goes under\n"
	"its own name, a destination that does not exist becomes the copy, a\n"
	"trailing '/' on DST demands an existing directory, and SRC ending in\n"
	"'/.' copies a directory's contents. A file is installed atomically with\n"
	"its mode (or -m MODE, octal); directories travel as tar through the\n"
	"guest's tar(1), owners and modes kept in the guest, modes (without\n"
	"setuid) on the host. Exit 7: a path does not exist; 2: a directory onto\n"
	"a file or a '/' on a non-directory; 9: the guest side failed; 6: local\n"
	"I/O.\n"
	"\n"
	"examples:\n"
	"  banger vm cp ./site web:/srv/\n"
	"  banger vm cp web:/var/log .\n"
	"  banger vm cp web:/etc - | tar -tv\n";

/* "NAME:PATH" with a valid VM name and an absolute PATH: splits it. A local
 * path like ./a:b or /x:y is not one. */
static bool guest_path(char *arg, char **path)
{
	char *colon = strchr(arg, ':');

	if (!colon || colon == arg)
		return false;
	*colon = '\0';
	if (!path_is_simple_name(arg)) {
		*colon = ':';
		return false;
	}
	*path = colon + 1;
	return true;
}

int vm_cp_main(int argc, char **argv)
{
	char *src, *dst, *remote, *name;
	struct agent_addr addr;
	long mode = -1;
	bool put;
	struct vm_config c;
	struct vm_paths p;
	struct store s;
	struct err e;
	int o, rc;

	err_init(&e);
	while ((o = xgetopt(argc, argv, "+m:")) != -1) {
		uint64_t v;

		if (o != 'm')
			die_usage("unknown option");
		if (parse_u64(optarg, 8, 07777, &v) < 0)
			die_usage("-m wants an octal mode, not '%s'", optarg);
		mode = (long)v;
	}
	if (argc - optind != 2)
		die_usage("give SRC and DST, one of them NAME:PATH");
	src = argv[optind];
	dst = argv[optind + 1];
	if (guest_path(dst, &remote)) {
		put = true;
		name = dst;
		if (guest_path(src, &remote))
			die_usage("copy between two VMs through the host");
		guest_path(dst, &remote);
	} else if (guest_path(src, &remote)) {
		put = false;
		name = src;
	} else {
		die_usage("one of SRC and DST must be NAME:PATH");
	}
	if (remote[0] != '/')
		die_usage("'%s': give the guest path from / ", remote);
	if (store_init(&s, &e) < 0 || vm_paths_init(&s, name, &p, &e) < 0 ||
	    vm_config_load(&p, &c, &e) < 0)
		die_err(&e);
	if (vm_status_get(&p, NULL) != VM_RUNNING)
		die(EXIT_NO, "VM '%s' is not running — 'banger vm start %s'", c.name, c.name);
	if (vm_agent_address(&p, &c, &addr, &e) < 0)
		die_err(&e);
	rc = put ? vm_copy_in(&addr, src, remote, mode, &e) : vm_copy_out(&addr, remote, dst, &e);
	if (rc < 0)
		die_err(&e);
	return EXIT_OK;
}
