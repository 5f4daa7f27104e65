/* vm-kill — signal a microVM's VMM at once: pulling the power, not shutting down.
 *
 * Its usage, the text --help prints, is vm_kill_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "lock.h"
#include "log.h"
#include "store.h"
#include "units.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <signal.h>
#include <stdint.h>
#include <strings.h>
#include <string.h>
#include <unistd.h>

const char vm_kill_usage[] =
	"usage: vm-kill [-s SIGNAL] NAME...\n"
	"\n"
	"Sends SIGNAL (default KILL) to each VM's VMM process, like docker kill:\n"
	"the guest gets no chance to shut down (use vm-stop for that). SIGNAL is\n"
	"a name (KILL, SIGTERM, hup) or a number. A VMM gone within 5 seconds\n"
	"leaves its VM stopped; one that survives the signal stays running. A VM\n"
	"that is not running answers 1.\n"
	"\n"
	"examples:\n"
	"  banger vm kill web\n"
	"  banger vm kill -s TERM web db\n";

static const struct {
	const char *name;
	int sig;
} sigs[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },	  { "QUIT", SIGQUIT },
	{ "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
	{ "TERM", SIGTERM }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
};

static int parse_signal(const char *arg)
{
	const char *n = strncasecmp(arg, "SIG", 3) ? arg : arg + 3;
	uint64_t v;

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!strcasecmp(n, sigs[i].name))
			return sigs[i].sig;
	if (parse_u64(arg, 10, 64, &v) == 0 && v >= 1)
		return (int)v;
	die_usage("-s '%s': not a signal — give a name (KILL, TERM, HUP, INT, USR1, …) or a "
		  "number from 1 to 64",
		  arg);
}

int vm_kill_main(int argc, char **argv)
{
	int sig = SIGKILL, o, rc = EXIT_OK;
	struct store s;
	struct err e;

	err_init(&e);
	while ((o = xgetopt(argc, argv, "+s:")) != -1) {
		if (o != 's')
			die_usage("unknown option");
		sig = parse_signal(optarg);
	}
	if (optind >= argc)
		die_usage("give the name of a VM");
	if (store_init(&s, &e) < 0)
		die_err(&e);
	for (int i = optind; i < argc; i++) {
		struct vm_config c;
		struct vm_paths p;
		bool gone;
		int lock = -1;

		err_init(&e);
		if ((lock = vm_open_locked(&s, argv[i], &p, &c, &e)) < 0 ||
		    vm_kill(&p, &c, sig, &gone, &e) < 0) {
			log_error("%s", e.msg);
			rc = e.code;
		} else if (!gone && sig == SIGKILL) {
			log_error("VM '%s': its VMM outlived SIGKILL — see 'ps' for a process in "
				  "uninterruptible sleep",
				  argv[i]);
			rc = EXIT_SYSTEM;
		}
		lock_release(lock);
	}
	return rc;
}
