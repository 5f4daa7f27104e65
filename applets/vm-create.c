/* vm-create — create a microVM (its config, disk copy and address) without starting it.
 *
 * Its usage, the text --help prints, is vm_create_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "log.h"
#include "store.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <getopt.h>
#include <stdio.h>

const char vm_create_usage[] =
	"usage: vm-create [--name N] [--image NAME] [--kernel NAME] [--cpus N] [--memory MiB]\n"
	"                 [--disk overlay|copy] [--disk-size SIZE] [--net tap|user|none] [--nat]\n"
	"                 [--ssh-key FILE] [--vmm firecracker|qemu] [--jail]\n"
	"                 [--init auto|systemd|minimal]\n"
	"                 [--mount type=tmpfs,destination=DIR[,tmpfs-size=SIZE]]...\n"
	"                 [-p [HOSTIP:]HOSTPORT:GUESTPORT]...\n"
	"\n"
	"Makes BANGER_HOME/vms/NAME/ with config.json and its disks: base.ext4, the\n"
	"image's own file (a hard link, shared by every VM of the image and attached\n"
	"read-only), and upper.ext4, an empty sparse ext4 that takes the VM's writes\n"
	"(the guest's / is an overlay of the two). In constant time, whatever the\n"
	"image's size. Leases the VM's address from BANGER_SUBNET (default\n"
	"172.30.0.1/24). Prints the VM's name. See docs/vm.md.\n"
	"\n"
	"  --name N         the VM's name (default: vm-XXXXXX)\n"
	"  --image NAME     an installed image (default: debian-bookworm)\n"
	"  --kernel NAME    an installed kernel (default: debian-cloud)\n"
	"  --cpus N         vCPUs, up to 32 (default 1); Firecracker takes 1 or even\n"
	"  --memory SIZE    guest memory: MiB, or with a suffix (1G, 768M; default 512)\n"
	"  --disk MODE      overlay (default), or copy: rootfs.ext4, a copy of the image\n"
	"                   of the VM's own (reflinked where the filesystem allows,\n"
	"                   else only its data), for kernels without overlayfs\n"
	"  --disk-size SIZE the VM's writable space (2G, 512M…; default 8G, sparse);\n"
	"                   with --disk copy the disk grows to SIZE and the guest its fs\n"
	"  --net MODE       tap (bridge banger0; default as root), user (QEMU\n"
	"                   user-mode; default otherwise), none\n"
	"  --nat            give the guest the outside world through NAT (needs tap)\n"
	"  --ssh-key FILE   an OpenSSH public key for the guest's root\n"
	"  --vmm VMM        firecracker (default when it and /dev/kvm are usable) or qemu\n"
	"  --jail           run Firecracker under its jailer\n"
	"  --init MODE      auto (the image's systemd, else banger's minimal init),\n"
	"                   systemd (installed with the package manager if missing),\n"
	"                   minimal; the guest's banger.init (docs/first-boot.md)\n"
	"  --mount SPEC     type=tmpfs,destination=DIR[,tmpfs-size=SIZE][,tmpfs-mode=OCTAL]:\n"
	"                   a tmpfs in the guest (banger.tmpfs), repeatable\n"
	"  -p, --publish [HOSTIP:]HOSTPORT:GUESTPORT[/tcp]\n"
	"                   while the VM runs, forward HOSTIP:HOSTPORT (default\n"
	"                   127.0.0.1) to GUESTPORT inside it, through the agent\n"
	"\n"
	"examples:\n"
	"  banger vm create --name web\n"
	"  banger vm create --name big --cpus 4 --memory 4G --disk-size 10G\n";

static const struct option opts[] = {
	VM_CONFIG_LONG_OPTIONS,
	{ "publish", required_argument, NULL, 'p' },
	{ NULL, 0, NULL, 0 },
};

int vm_create_main(int argc, char **argv)
{
	struct vm_config c;
	struct store s;
	struct err e;
	enum vm_copy_how how;
	int o, idx;

	err_init(&e);
	vm_config_defaults(&c, "");
	c.vmm[0] = c.net[0] = '\0';
	while ((o = xgetopt_long(argc, argv, "+p:", opts, &idx)) != -1) {
		if (o != 0 && o != 'p')
			die_usage("unknown option");
		if (vm_config_option(&c, o == 'p' ? "publish" : opts[idx].name, optarg, &e) < 0)
			die_usage("%s", e.msg);
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (vm_config_finish(&c, NULL, 0, &e) < 0) {
		if (e.code == EXIT_USAGE)
			die_usage("%s", e.msg);
		die_err(&e);
	}
	if (store_init(&s, &e) < 0 || vm_create(&s, &c, &how, &e) < 0)
		die_err(&e);
	log_info("created %s: %s, %s/%d, %s, disk %s", c.name, c.vmm, c.ip, c.prefix, c.net,
		 how == VM_COPY_LINK	  ? "the image's, shared, with a layer of its own"
		 : how == VM_COPY_REFLINK ? "reflinked"
					  : "sparse copy");
	printf("%s\n", c.name);
	return EXIT_OK;
}
