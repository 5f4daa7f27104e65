/* vm-snapshot — save a running microVM's memory, devices and writable disk, to start from later.
 *
 * Its usage, the text --help prints, is vm_snapshot_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "lock.h"
#include "log.h"
#include "path.h"
#include "store.h"
#include "units.h"
#include "vm/snapshot.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char vm_snapshot_usage[] =
	"usage: vm-snapshot NAME [SNAP]\n"
	"\n"
	"Saves the running VM NAME as snapshot SNAP (default NAME-YYYYMMDD-HHMMSS,\n"
	"UTC): its vCPUs stop, the VMM writes its memory and device state (QEMU:\n"
	"a migration stream; Firecracker: /snapshot/create), its writable disk is\n"
	"copied (reflink where the filesystem can), then the VM runs on (a paused\n"
	"one stays paused). A manifest records what it is of — image, kernel,\n"
	"initramfs, VMM and versions, size — and each file's size and sha256;\n"
	"'vm start --from SNAP' checks them all. Prints SNAP; the sizes and the\n"
	"time the guest stood still go to stderr. The memory holds whatever the\n"
	"guest had in it, secrets too (docs/snapshots.md).\n"
	"\n"
	"examples:\n"
	"  banger vm snapshot web web-ready\n"
	"  banger vm stop web && banger vm start --from web-ready web\n";

int vm_snapshot_main(int argc, char **argv)
{
	char snap[VM_NAME_MAX + 1], dir[LIMIT_PATH], size[32], disk[32];
	struct snap_manifest m;
	struct vm_config c;
	struct vm_paths p;
	struct store s;
	struct err e;
	uint64_t mem = 0;
	int lock;

	err_init(&e);
	if (xgetopt(argc, argv, "+") != -1)
		die_usage("unknown option");
	if (argc - optind < 1 || argc - optind > 2)
		die_usage("give the name of a VM, and of the snapshot if you like");
	if (optind + 1 < argc) {
		if (!path_is_simple_name(argv[optind + 1]) ||
		    strlen(argv[optind + 1]) > VM_NAME_MAX)
			die_usage("snapshot '%s': use letters, digits, '.', '_' and '-' (at most "
				  "64, starting with a letter or digit)",
				  argv[optind + 1]);
		snprintf(snap, sizeof(snap), "%s", argv[optind + 1]);
	} else {
		time_t t = time(NULL);
		struct tm tm;
		char stamp[32];

		gmtime_r(&t, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
		if ((size_t)snprintf(snap, sizeof(snap), "%s-%s", argv[optind], stamp) >=
		    sizeof(snap))
			die_usage("VM name too long for a default snapshot name: give one");
	}
	if (store_init(&s, &e) < 0 || vm_paths_init(&s, argv[optind], &p, &e) < 0 ||
	    (lock = vm_lock(&s, argv[optind], &e)) < 0 || vm_config_load(&p, &c, &e) < 0 ||
	    snap_create(&s, &p, &c, snap, &m, &e) < 0)
		die_err(&e);
	lock_release(lock);
	for (int i = 0; i < m.nfiles; i++)
		if (!strcmp(m.files[i].role, "memory") || !strcmp(m.files[i].role, "state"))
			mem += m.files[i].size;
	format_size(mem, size, sizeof(size));
	format_size(store_object_dir(&s, "snapshots", snap, dir, sizeof(dir), &e) < 0
			    ? 0
			    : snap_own_bytes(dir, &m, "disk"),
		    disk, sizeof(disk));
	log_info("snapshot %s of %s: %s of state and memory, %s of disk copies, saved in "
		 "%.1f s, the guest stood still %.1f s",
		 snap, c.name, size, disk, (double)m.save_ms / 1000, (double)m.downtime_ms / 1000);
	printf("%s\n", snap);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}
