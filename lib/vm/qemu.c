/* qemu.c — see qemu.h. */
#include "vm/qemu.h"
#include "agent/agentproto.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct argbuild {
	char **argv;
	int n;
	char *store;
	size_t used;
	bool full;
};

static void add(struct argbuild *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct argbuild *a, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (a->full || a->n >= QEMU_ARGV_MAX - 1) {
		a->full = true;
		return;
	}
	va_start(ap, fmt);
	len = vsnprintf(a->store + a->used, QEMU_ARG_BYTES - a->used, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= QEMU_ARG_BYTES - a->used) {
		a->full = true;
		return;
	}
	a->argv[a->n++] = a->store + a->used;
	a->used += (size_t)len + 1;
}

/* QEMU's option syntax uses ',' as a separator: a path holding one would be
 * misread, so refuse it rather than mis-quote it. */
static int check_path(const char *what, const char *p, struct err *e)
{
	if (p && strchr(p, ','))
		return err_set(e, EXIT_USAGE, "%s '%s': QEMU cannot take a path with ',' — move it",
			       what, p);
	return 0;
}

int qemu_argv(const struct qemu_vm *q, char **argv, char *store, struct err *e)
{
	struct argbuild a = { .argv = argv, .store = store };

	if (check_path("disk", q->rootfs, e) < 0 || check_path("socket", q->agent_sock, e) < 0 ||
	    check_path("socket", q->qmp_sock, e) < 0 || check_path("kernel", q->kernel, e) < 0 ||
	    check_path("initrd", q->initrd, e) < 0 || check_path("disk", q->upper, e) < 0 ||
	    check_path("socket", q->fwd_sock, e) < 0)
		return -1;
	add(&a, "%s", q->qemu);
	add(&a, "-M");
	add(&a, "microvm,x-option-roms=off,rtc=on,acpi=on,pcie=off");
	add(&a, "-accel");
	add(&a, "%s", q->kvm ? "kvm" : "tcg");
	if (q->kvm) {
		add(&a, "-cpu");
		add(&a, "host");
	}
	add(&a, "-smp");
	add(&a, "%d", q->cpus);
	add(&a, "-m");
	add(&a, "%d", q->mem_mib);
	add(&a, "-nodefaults");
	add(&a, "-no-user-config");
	add(&a, "-display");
	add(&a, "none");
	add(&a, "-serial");
	add(&a, "stdio");
	add(&a, "-no-reboot");
	add(&a, "-kernel");
	add(&a, "%s", q->kernel);
	if (q->initrd) {
		add(&a, "-initrd");
		add(&a, "%s", q->initrd);
	}
	add(&a, "-append");
	add(&a, "%s", q->cmdline);
	add(&a, "-drive");
	add(&a, "id=root,file=%s,format=raw,if=none,cache=writeback%s", q->rootfs,
	    q->upper ? ",readonly=on" : "");
	add(&a, "-device");
	add(&a, "virtio-blk-device,drive=root");
	if (q->upper) {
		add(&a, "-drive");
		add(&a, "id=upper,file=%s,format=raw,if=none,cache=writeback", q->upper);
		add(&a, "-device");
		add(&a, "virtio-blk-device,drive=upper");
	}
	if (!strcmp(q->net, "tap") || !strcmp(q->net, "user")) {
		add(&a, "-netdev");
		if (!strcmp(q->net, "tap"))
			add(&a, "tap,id=n0,ifname=%s,script=no,downscript=no", q->tap);
		else if (q->ssh_port > 0)
			add(&a, "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:22", q->ssh_port);
		else
			add(&a, "user,id=n0");
		add(&a, "-device");
		add(&a, "virtio-net-device,netdev=n0%s%s", q->mac ? ",mac=" : "",
		    q->mac ? q->mac : "");
	}
	add(&a, "-device");
	add(&a, "virtio-serial-device");
	add(&a, "-chardev");
	add(&a, "socket,id=agent,path=%s,server=on,wait=off", q->agent_sock);
	add(&a, "-device");
	add(&a, "virtserialport,chardev=agent,name=" AP_SERIAL_NAME);
	/* A port of its own for -p's forwarder: QEMU's host end of a port takes
	 * one client at a time, and a long forwarded connection must not hold
	 * up vm exec. */
	if (q->fwd_sock) {
		add(&a, "-chardev");
		add(&a, "socket,id=fwd,path=%s,server=on,wait=off", q->fwd_sock);
		add(&a, "-device");
		add(&a, "virtserialport,chardev=fwd,name=" AP_SERIAL_FORWARD_NAME);
	}
	add(&a, "-qmp");
	add(&a, "unix:%s,server=on,wait=off", q->qmp_sock);
	if (a.full)
		return err_set(e, EXIT_VERIFY, "QEMU command line too long (over %d bytes)",
			       QEMU_ARG_BYTES);
	argv[a.n] = NULL;
	return 0;
}

int qemu_launch(const struct qemu_vm *q, const char *log, int timeout_ms, pid_t *pid, struct err *e)
{
	char *argv[QEMU_ARGV_MAX], store[QEMU_ARG_BYTES];
	pid_t p;

	if (qemu_argv(q, argv, store, e) < 0)
		return -1;
	unlink(q->agent_sock);
	unlink(q->qmp_sock);
	if (q->fwd_sock)
		unlink(q->fwd_sock);
	if (proc_spawn_detached((const char *const *)argv, log, &p, e) < 0) {
		char msg[ERR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", e->msg);
		return err_set(e, e->code, "%.400s — install qemu-system-x86 or set BANGER_QEMU",
			       msg);
	}
	*pid = p;
	/* A listening socket is not enough: QEMU binds it before it sets up
	 * the accelerator. An answer on the monitor means it got past that. */
	if (proc_wait_socket(q->qmp_sock, p, timeout_ms, e) < 0 ||
	    qemu_qmp(q->qmp_sock, "query-status", e) < 0) {
		char msg[ERR_MSG_MAX];

		proc_kill(p);
		snprintf(msg, sizeof(msg), "%s", e->msg);
		return err_set(e, EXIT_GUEST, "QEMU did not come up (%.300s) — see %s", msg, log);
	}
	return 0;
}

/* Reads until a line holding "return" or "error" (or timeout). */
static int qmp_answer(int fd, const char *what, struct err *e)
{
	char buf[LIMIT_QMP_ANSWER];
	size_t len = 0;

	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 3000) <= 0)
			return err_set(e, EXIT_GUEST, "QEMU monitor: no answer to %s", what);
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return err_set(e, EXIT_GUEST, "QEMU monitor closed during %s", what);
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\"error\""))
			return err_set(e, EXIT_GUEST, "QEMU monitor refused %s: %.200s", what, buf);
		if (strstr(buf, "\"return\"") || strstr(buf, "\"QMP\""))
			return 0;
		if (len >= sizeof(buf) - 1)
			return err_set(e, EXIT_VERIFY,
				       "QEMU monitor: answer to %s longer than %d bytes", what,
				       LIMIT_QMP_ANSWER);
	}
}

int qemu_qmp(const char *qmp_sock, const char *command, struct err *e)
{
	char req[128];
	int fd = proc_connect_unix(qmp_sock, e);
	int n;

	if (fd < 0)
		return -1;
	n = snprintf(req, sizeof(req), "{\"execute\":\"%s\"}\n", command);
	if (qmp_answer(fd, "greeting", e) < 0 ||
	    write(fd, "{\"execute\":\"qmp_capabilities\"}\n", 31) != 31 ||
	    qmp_answer(fd, "qmp_capabilities", e) < 0 || write(fd, req, (size_t)n) != n ||
	    qmp_answer(fd, command, e) < 0) {
		if (!e->code)
			err_errno(e, EXIT_GUEST, "QEMU monitor %s", qmp_sock);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

bool qemu_kvm_works(const char *qemu)
{
	static const char cmds[] = "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n";
	const char *argv[] = { qemu,   "-M",   "microvm",     "-accel",		 "kvm",
			       "-cpu", "host", "-nodefaults", "-no-user-config", "-display",
			       "none", "-S",   "-qmp",	      "stdio",		 NULL };
	struct proc_io io = { .input = cmds, .input_len = sizeof(cmds) - 1, .timeout_ms = 5000 };
	struct err e;

	err_init(&e);
	return proc_run(argv, &io, &e) == 0;
}
