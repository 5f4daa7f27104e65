/* vm-logs — print a microVM's console log (the guest console and VMM output).
 *
 * Its usage, the text --help prints, is vm_logs_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "store.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

const char vm_logs_usage[] = "usage: vm-logs [-f] NAME\n"
			     "\n"
			     "-f follows the log as it grows until the VM stops (or Ctrl-C).\n"
			     "\n"
			     "examples:\n"
			     "  banger vm logs web\n"
			     "  banger vm logs -f web\n";

/* Copies what is left of fd to stdout; 0 at end of file. */
static int drain(int fd, const char *what)
{
	char buf[65536];
	ssize_t n;
	struct err e = { 0 };

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (file_write_all(1, buf, (size_t)n, "stdout", &e) < 0)
			die_err(&e);
	if (n < 0)
		die(EXIT_SYSTEM, "%s: read: %s", what, strerror(errno));
	return 0;
}

int vm_logs_main(int argc, char **argv)
{
	bool follow = false;
	struct vm_config c;
	struct vm_paths p;
	struct store s;
	struct err e;
	int o, fd;

	err_init(&e);
	while ((o = xgetopt(argc, argv, "+f")) != -1) {
		if (o != 'f')
			die_usage("unknown option");
		follow = true;
	}
	if (optind + 1 != argc)
		die_usage("give the name of one VM");
	if (store_init(&s, &e) < 0 || vm_paths_init(&s, argv[optind], &p, &e) < 0 ||
	    vm_config_load(&p, &c, &e) < 0)
		die_err(&e);
	fd = open(p.console, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		die(EXIT_SYSTEM, "%s: %s", p.console, strerror(errno));
	if (fd >= 0)
		drain(fd, p.console);
	while (follow) {
		/* Drain once more after the VM is gone: its last words count. */
		bool running = vm_status_get(&p, NULL) == VM_RUNNING;

		if (fd < 0)
			fd = open(p.console, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			drain(fd, p.console);
		if (!running)
			break;
		poll(NULL, 0, 200);
	}
	if (fd >= 0)
		close(fd);
	return EXIT_OK;
}
