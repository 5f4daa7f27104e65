/* init.c — the initramfs' /init: PID 1 until the real root is mounted.
 *
 * The kernel runs it with nothing but the archive (initramfs/content.list,
 * the modules): it mounts the kernel's file systems, loads the modules in
 * lib/modules/banger.order, waits for root=, mounts it on /newroot
 * (alone, or read-only under an overlay with the VM's own disk,
 * banger.upper=), puts this binary on /run, switches to the new root and
 * runs it as first-boot (or init=). It never exits: PID 1
 * exiting panics the kernel, so a failure is said on the console and the VM
 * is powered off (or rebooted, banger.halt=reboot). No x-helpers here.
 * See docs/initramfs.md.
 */
#include "initramfs/init.h"
#include "embed.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "guest/cmdline.h"
#include "guest/sysconf.h"
#include "guest/sysinit.h"
#include "kernel/initramfs.h"
#include "kernel/kmod.h"
#include "log.h"
#include "path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#define NEWROOT "/newroot"
#define RUN_DIR "/run/banger"
#define LOWER RUN_DIR "/lower"
#define UPPER RUN_DIR "/upper"
#define OUR_BANGER RUN_DIR "/banger"
#define OUR_FIRST_BOOT RUN_DIR "/banger-first-boot"

/* Nothing left to try: say so and stop the VM (exiting would panic). */
__attribute__((noreturn)) static void init_fatal(const struct err *e, bool reboot_)
{
	log_error("%s", e->msg);
	log_error("cannot boot: %s", reboot_ ? "rebooting" : "powering off");
	sync();
	reboot(reboot_ ? RB_AUTOBOOT : RB_POWER_OFF);
	for (;;)
		pause();
}

/* The modalias of every device the kernel knows now, space-separated
 * (what udev's coldplug matches drivers against). */
static void device_aliases(char *out, size_t size)
{
	static const char *const buses[] = { "/sys/bus/virtio/devices", "/sys/bus/pci/devices",
					     "/sys/bus/platform/devices", "/sys/bus/acpi/devices" };
	size_t n = 0;

	out[0] = '\0';
	for (size_t b = 0; b < sizeof(buses) / sizeof(buses[0]); b++) {
		DIR *d = opendir(buses[b]);
		struct dirent *de;

		while (d && (de = readdir(d))) {
			char path[LIMIT_PATH], alias[256];
			int fd;
			ssize_t r;

			if (de->d_name[0] == '.' ||
			    (size_t)snprintf(path, sizeof(path), "%s/%s/modalias", buses[b],
					     de->d_name) >= sizeof(path) ||
			    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
				continue;
			r = read(fd, alias, sizeof(alias) - 1);
			close(fd);
			if (r <= 0)
				continue;
			alias[r] = '\0';
			alias[strcspn(alias, "\n")] = '\0';
			if (n + (size_t)r + 2 < size)
				n += (size_t)snprintf(out + n, size - n, "%s ", alias);
		}
		if (d)
			closedir(d);
	}
}

/* Whether a driver with these aliases (banger.devices) has a device here:
 * no line for it (a protocol or filesystem module) means it is needed. */
static bool init_module_wanted(const char *devices, const char *name)
{
	size_t nlen = strlen(name);
	char present[8192];

	for (const char *l = devices; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, name, nlen) || l[nlen] != ' ')
			continue;
		device_aliases(present, sizeof(present));
		for (const char *a = l + nlen + 1; *a && *a != '\n';) {
			char pat[256], dev[256];
			size_t alen = strcspn(a, " \n");

			if (alen < sizeof(pat)) {
				memcpy(pat, a, alen);
				pat[alen] = '\0';
				for (const char *d = present; *d;) {
					size_t dlen = strcspn(d, " ");

					if (dlen < sizeof(dev)) {
						memcpy(dev, d, dlen);
						dev[dlen] = '\0';
						if (fnmatch(pat, dev, 0) == 0)
							return true;
					}
					d += dlen + (d[dlen] == ' ');
				}
			}
			a += alen + (a[alen] == ' ');
		}
		return false;
	}
	return true;
}

/* Loads banger.order's modules, skipping a driver whose devices are all
 * absent (no virtio_net with --net none, no virtio_pci on a machine without
 * PCI): each one costs tens of milliseconds under emulation. Bus drivers
 * come first in the order, so the devices they find are there when the
 * drivers for them come up. */
static void init_load_modules(const struct cmdline *cl)
{
	char *list = NULL, *devices = NULL, path[LIMIT_PATH], params[1024];
	size_t len;
	int loaded = 0, already = 0, failed = 0, absent = 0;
	struct err e;

	err_init(&e);
	if (file_read_all("/" INITRAMFS_ORDER_FILE, 64 * 1024, &list, &len, &e) < 0) {
		log_warn("%s", e.msg);
		return;
	}
	err_init(&e);
	if (file_read_all("/" INITRAMFS_DEVICES_FILE, 256 * 1024, &devices, &len, &e) < 0)
		devices = NULL; /* an older archive: load everything */
	for (char *name = list; name && *name;) {
		char *nl = strchr(name, '\n');
		int r;

		if (nl)
			*nl = '\0';
		err_init(&e);
		if (*name && !init_module_wanted(devices, name))
			absent++;
		else if (*name &&
			 (path_joinf(path, sizeof(path), &e, "/" INITRAMFS_MOD_DIR, "%s.ko", name) <
				  0 ||
			  cmdline_module_params(cl, name, params, sizeof(params), &e) < 0 ||
			  (r = kmod_load(path, params, &e)) < 0)) {
			log_warn("%s", e.msg);
			failed++;
		} else if (*name) {
			*(r ? &already : &loaded) += 1;
		}
		name = nl ? nl + 1 : NULL;
	}
	free(list);
	free(devices);
	log_info("modules: %d loaded, %d built in or already loaded, %d for absent devices, "
		 "%d failed",
		 loaded, already, absent, failed);
}

/* Mounts the VM's root on NEWROOT. With banger.upper the image (root=) is
 * the lower layer, read-only and shared with every VM made from it, and the
 * VM's own disk holds the upper layer: the guest's init sees an ordinary
 * writable / while the image stays exactly the verified bytes. Both layers
 * are mounted under /run/banger, which moves into the new root with /run. */
static int init_mount_root(const struct guest_config *g, struct err *e)
{
	unsigned long flags = g->root_rw ? 0 : MS_RDONLY;

	mkdir(NEWROOT, 0755);
	if (!g->upper) {
		if (mount(g->root, NEWROOT, g->rootfstype, flags, g->rootflags) < 0)
			return err_errno(e, 0,
					 "cannot mount %s (%s) on /: check root= and rootfstype=",
					 g->root, g->rootfstype);
		log_info("root %s mounted (%s, %s)", g->root, g->rootfstype, flags ? "ro" : "rw");
		return 0;
	}
	if (path_mkdirs(LOWER, 0755, e) < 0 || path_mkdirs(UPPER, 0755, e) < 0)
		return -1;
	if (mount(g->root, LOWER, g->rootfstype, MS_RDONLY, g->rootflags) < 0)
		return err_errno(e, 0,
				 "cannot mount the image %s (%s) read-only: check root=", g->root,
				 g->rootfstype);
	if (sysinit_wait_block(g->upper, g->root_timeout_s, e) < 0)
		return -1;
	if (mount(g->upper, UPPER, "ext4", MS_NOATIME, NULL) < 0)
		return err_errno(e, 0, "cannot mount the VM's disk %s (ext4): recreate the VM",
				 g->upper);
	if (path_mkdirs(UPPER "/upper", 0755, e) < 0 || path_mkdirs(UPPER "/work", 0700, e) < 0)
		return -1;
	/* Whole-file copy-up, no index or redirects: the upper then holds only
	 * plain files, whiteouts and opaque directories, which vm diff and vm
	 * commit read from the host (docs/vm.md). */
	if (mount("overlay", NEWROOT, "overlay", 0,
		  "lowerdir=" LOWER ",upperdir=" UPPER "/upper,workdir=" UPPER
		  "/work,index=off,metacopy=off,redirect_dir=off,xino=off") < 0) {
		if (errno == ENODEV)
			return err_set(e, EXIT_SYSTEM,
				       "this kernel has no overlayfs: build it with "
				       "CONFIG_OVERLAY_FS or put the overlay module in its "
				       "initramfs, or make the VM with --disk copy");
		return err_errno(e, 0, "cannot mount the overlay root (%s over %s)", g->upper,
				 g->root);
	}
	log_info("root: overlay of %s (image, ro) and %s (rw)", g->root, g->upper);
	return 0;
}

/* Puts this binary (the initramfs' /init) on /run as first-boot and the
 * agent, with their systemd units in /run/systemd/system for an image
 * that boots systemd: the guest runs the banger that built the VM, the
 * image itself is never written. */
static int init_install_banger(struct err *e)
{
	static const struct {
		const char *name;
		struct embedded (*unit)(void);
	} units[] = {
		{ "banger-first-boot.service", embedded_unit_first_boot },
		{ "banger-vsock-agent.service", embedded_unit_vsock_agent },
	};
	char *data = NULL;
	size_t len;
	int rc;

	if (path_mkdirs(RUN_DIR, 0755, e) < 0 ||
	    file_read_all("/init", LIMIT_SELF_BYTES, &data, &len, e) < 0)
		return -1;
	rc = file_write_atomic(OUR_BANGER, data, len, 0755, e);
	free(data);
	if (rc < 0)
		return -1;
	if ((symlink("banger", OUR_FIRST_BOOT) < 0 && errno != EEXIST) ||
	    (symlink("banger", RUN_DIR "/banger-vsock-agent") < 0 && errno != EEXIST))
		return err_errno(e, 0, "%s: cannot link banger's applets", RUN_DIR);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		struct embedded u = units[i].unit();

		if (sysconf_install_unit("/run/systemd/system", units[i].name, u.data, u.size, e) <
		    0)
			return -1;
	}
	return 0;
}

void initramfs_init(void)
{
	struct cmdline cl;
	struct guest_config g;
	char *text = NULL;
	size_t len = 0;
	struct err e;

	log_init("initramfs");
	err_init(&e);
	if (sysinit_mount_api(&e) < 0)
		log_warn("%s", e.msg);
	sysinit_console();
	err_init(&e);
	if (file_read_all("/proc/cmdline", LIMIT_CMDLINE + 1, &text, &len, &e) < 0 ||
	    cmdline_parse(&cl, text, len, &e) < 0) {
		log_warn("%s", e.msg);
		cl.nword = 0;
	}
	free(text);
	err_init(&e);
	if (guest_config_parse(&g, &cl, &e) < 0)
		log_warn("%s", e.msg);
	init_load_modules(&cl);

	err_init(&e);
	if (!g.root || !*g.root) {
		err_set(&e, EXIT_USAGE, "no root= on the kernel command line — pass root=/dev/vda");
		init_fatal(&e, g.halt == HALT_REBOOT);
	}
	if (strncmp(g.root, "/dev/", 5)) {
		err_set(&e, EXIT_USAGE, "root=%s: only root=/dev/NAME is understood here", g.root);
		init_fatal(&e, g.halt == HALT_REBOOT);
	}
	if (sysinit_wait_block(g.root, g.root_timeout_s, &e) < 0 || init_mount_root(&g, &e) < 0 ||
	    init_install_banger(&e) < 0)
		init_fatal(&e, g.halt == HALT_REBOOT);
	if (sysinit_switch_root(NEWROOT, &e) < 0)
		init_fatal(&e, g.halt == HALT_REBOOT);
	if (g.init_path)
		execl(g.init_path, g.init_path, (char *)NULL);
	else
		execl(OUR_FIRST_BOOT, "first-boot", (char *)NULL);
	err_errno(&e, 0, "%s: cannot run it as init — check init= or the image",
		  g.init_path ? g.init_path : OUR_FIRST_BOOT);
	init_fatal(&e, g.halt == HALT_REBOOT);
}
