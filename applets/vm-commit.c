/* vm-commit — make a new image of a stopped microVM's disk, as docker commit does.
 *
 * Its usage, the text --help prints, is vm_commit_usage[] below. The work is
 * vm_commit (lib/vm/commit.h): one transaction, locked and atomic.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "log.h"
#include "store.h"
#include "units.h"
#include "vm/commit.h"
#include "xfuncs.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char vm_commit_usage[] =
	"usage: vm-commit [-f] NAME IMAGE\n"
	"\n"
	"Writes a new image IMAGE (BANGER_HOME/images/IMAGE: rootfs.ext4 and\n"
	"manifest.json) of the stopped VM NAME's disk: its image with what the VM\n"
	"changed applied as the guest saw it (deletions, replaced directories,\n"
	"owners, modes, times, hard links, devices, xattrs and holes kept). The\n"
	"manifest says source \"commit:NAME\" and keeps the VM's image's run\n"
	"config (Env, Entrypoint, Cmd, WorkingDir, User), so `vm run --image\n"
	"IMAGE` runs it the same way. The image is built beside the store and\n"
	"renamed in when complete. -f replaces an existing IMAGE (VMs made from it\n"
	"keep their disks). Prints IMAGE. A running VM is refused (exit 8): stop it\n"
	"first; a VM that was killed is read as its journal left it.\n"
	"\n"
	"examples:\n"
	"  banger vm commit web web-configured\n"
	"  banger vm commit -f web web-configured && banger vm run --image web-configured\n";

int vm_commit_main(int argc, char **argv)
{
	static const struct option longopts[] = { { "force", no_argument, NULL, 'f' },
						  { NULL, 0, NULL, 0 } };
	struct vm_commit_opts o = { .progress = isatty(2) };
	struct vm_committed res;
	struct store s;
	struct err e;
	char size[32];
	int c;

	err_init(&e);
	while ((c = xgetopt_long(argc, argv, "+f", longopts, NULL)) != -1) {
		if (c != 'f')
			die_usage("unknown option");
		o.force = true;
	}
	if (optind + 2 != argc)
		die_usage("want the VM's NAME and the new IMAGE's name");
	if (store_init(&s, &e) < 0 ||
	    vm_commit(&s, argv[optind], argv[optind + 1], &o, &res, &e) < 0)
		die_err(&e);
	if (res.notice[0])
		log_warn("%s", res.notice);
	format_size(res.size, size, sizeof(size));
	log_info("image %s: %s, %s, %zu changes from VM %s", argv[optind + 1], res.digest, size,
		 res.changes, argv[optind]);
	puts(argv[optind + 1]);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}
