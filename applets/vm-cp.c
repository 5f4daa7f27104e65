/* vm-cp — copy a file into or out of a running microVM through its guest agent.
 *
 * Its usage, the text --help prints, is vm_cp_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "path.h"
#include "store.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char vm_cp_usage[] =
	"usage: vm-cp [-m MODE] SRC DST\n"
	"\n"
	"One of SRC and DST is NAME:PATH, a path in VM NAME; the other a local\n"
	"path, or '-' for stdin/stdout. Into the guest the file is installed\n"
	"atomically with the local file's mode (or -m MODE, octal); out of it the\n"
	"local file appears whole or not at all. Through 'banger agent put/get'.\n";

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
	char exe[LIMIT_PATH], opt[16], sock[LIMIT_PATH];
	const char *mode = NULL;
	char *src, *dst, *remote, *name;
	bool put;
	struct vm_config c;
	struct vm_paths p;
	struct store s;
	struct err e;
	const char *av[12];
	int o, n = 0;
	ssize_t len;

	err_init(&e);
	while ((o = xgetopt(argc, argv, "+m:")) != -1) {
		char *end;

		if (o != 'm')
			die_usage("unknown option");
		if (strtol(optarg, &end, 8) < 0 || *end || !*optarg)
			die_usage("-m wants an octal mode, not '%s'", optarg);
		mode = optarg;
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
	if (vm_agent_option(&p, &c, opt, sock, sizeof(sock), &e) < 0)
		die_err(&e);
	av[n++] = "banger";
	av[n++] = "agent";
	av[n++] = put ? "put" : "get";
	av[n++] = opt;
	av[n++] = sock;
	if (put && mode) {
		av[n++] = "-m";
		av[n++] = mode;
	}
	av[n++] = put ? src : remote;
	av[n++] = put ? remote : dst;
	av[n] = NULL;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len < 0)
		die(EXIT_SYSTEM, "/proc/self/exe: %s", strerror(errno));
	exe[len] = '\0';
	execv(exe, (char *const *)av);
	die(EXIT_SYSTEM, "%s: cannot run: %s", exe, strerror(errno));
}
