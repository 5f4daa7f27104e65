/* init.c — the initramfs' /init: PID 1 until the real root is mounted.
 *
 * The kernel runs it with nothing but the archive (initramfs/content.list,
 * the modules): it mounts the kernel's file systems, loads the modules in
 * lib/modules/banger.order, waits for root=, mounts it on /newroot,
 * switches to it and runs first-boot (or init=). It never exits: PID 1
 * exiting panics the kernel, so a failure is said on the console and the VM
 * is powered off (or rebooted, banger.halt=reboot). No x-helpers here.
 * See docs/initramfs.md.
 */
#include "initramfs/init.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "guest/cmdline.h"
#include "guest/sysinit.h"
#include "kernel/initramfs.h"
#include "kernel/kmod.h"
#include "log.h"
#include "path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#define NEWROOT "/newroot"
#define FIRST_BOOT "/usr/local/libexec/banger-first-boot"
#define BANGER_IN_ROOT "/usr/local/libexec/banger"

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

static void init_load_modules(const struct cmdline *cl)
{
	char *list = NULL, path[LIMIT_PATH], params[1024];
	size_t len;
	int loaded = 0, already = 0, failed = 0;
	struct err e;

	err_init(&e);
	if (file_read_all("/" INITRAMFS_ORDER_FILE, 64 * 1024, &list, &len, &e) < 0) {
		log_warn("%s", e.msg);
		return;
	}
	for (char *name = list; name && *name;) {
		char *nl = strchr(name, '\n');
		int r;

		if (nl)
			*nl = '\0';
		err_init(&e);
		if (*name &&
		    (path_joinf(path, sizeof(path), &e, "/" INITRAMFS_MOD_DIR, "%s.ko", name) < 0 ||
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
	log_info("modules: %d loaded, %d built in or already loaded, %d failed", loaded, already,
		 failed);
}

/* The program to run in the new root, and how to call it. */
static void init_pick(const struct guest_config *g, char *path, size_t size, const char **argv0)
{
	char in_root[LIMIT_PATH];
	struct err e;

	err_init(&e);
	if (g->init_path) {
		snprintf(path, size, "%s", g->init_path);
		*argv0 = g->init_path;
		return;
	}
	*argv0 = "first-boot";
	snprintf(path, size, "%s", FIRST_BOOT);
	if (path_join(in_root, sizeof(in_root), NEWROOT, FIRST_BOOT, &e) == 0 &&
	    access(in_root, X_OK) == 0)
		return;
	snprintf(path, size, "%s", BANGER_IN_ROOT);
	if (path_join(in_root, sizeof(in_root), NEWROOT, BANGER_IN_ROOT, &e) == 0 &&
	    access(in_root, X_OK) == 0)
		return;
	/* The image has no banger: bring ours along on /run (moved over). */
	unsigned char *data;
	size_t len;
	snprintf(path, size, "/run/banger/banger");
	if (path_mkdirs("/run/banger", 0755, &e) < 0 ||
	    file_read_all("/init", 64 << 20, (char **)&data, &len, &e) < 0) {
		log_warn("%s", e.msg);
		return;
	}
	if (file_write_atomic(path, data, len, 0755, &e) < 0)
		log_warn("%s", e.msg);
	free(data);
}

void initramfs_init(void)
{
	struct cmdline cl;
	struct guest_config g;
	char *text = NULL, path[LIMIT_PATH];
	const char *argv0;
	unsigned long flags = MS_RDONLY;
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
	if (sysinit_wait_block(g.root, g.root_timeout_s, &e) < 0)
		init_fatal(&e, g.halt == HALT_REBOOT);
	if (g.root_rw)
		flags = 0;
	mkdir(NEWROOT, 0755);
	if (mount(g.root, NEWROOT, g.rootfstype, flags, g.rootflags) < 0) {
		err_errno(&e, 0, "cannot mount %s (%s) on /: check root= and rootfstype=", g.root,
			  g.rootfstype);
		init_fatal(&e, g.halt == HALT_REBOOT);
	}
	log_info("root %s mounted (%s, %s)", g.root, g.rootfstype, flags ? "ro" : "rw");
	init_pick(&g, path, sizeof(path), &argv0);
	if (sysinit_switch_root(NEWROOT, &e) < 0)
		init_fatal(&e, g.halt == HALT_REBOOT);
	execl(path, argv0, (char *)NULL);
	err_errno(&e, 0, "%s: cannot run it as init — check init= or the image", path);
	init_fatal(&e, g.halt == HALT_REBOOT);
}
