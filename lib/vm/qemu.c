/* qemu.c — see qemu.h. */
#include "vm/qemu.h"
#include "agent/agentproto.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"
#include "proc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
	if (q->incoming) {
		add(&a, "-S");
		add(&a, "-incoming");
		add(&a, "defer");
	}
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

/* ---- QMP ---------------------------------------------------------------- */

int qmp_reader_feed(struct qmp_reader *r, const char *data, size_t n, struct err *e)
{
	if (n > sizeof(r->buf) - 1 - r->len)
		return err_set(e, EXIT_VERIFY, "QEMU monitor: a message longer than %d bytes",
			       LIMIT_QMP_ANSWER);
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	return 0;
}

/* One message line (NUL-terminated, no newline) into m; 0 for an event. */
static int qmp_line(char *line, struct qmp_msg *m, struct err *e)
{
	cJSON *j = cJSON_Parse(line);
	const cJSON *v;
	int r = 1;

	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return err_set(e, EXIT_VERIFY, "QEMU monitor: not a JSON object: %.100s", line);
	}
	m->text[0] = '\0';
	if (cJSON_GetObjectItemCaseSensitive(j, "QMP")) {
		m->kind = QMP_GREETING;
	} else if ((v = cJSON_GetObjectItemCaseSensitive(j, "return"))) {
		char *t = cJSON_PrintUnformatted(v);

		m->kind = QMP_RETURN;
		if (!t)
			r = err_set(e, EXIT_SYSTEM, "QEMU monitor: out of memory");
		else
			snprintf(m->text, sizeof(m->text), "%s", t);
		free(t);
	} else if ((v = cJSON_GetObjectItemCaseSensitive(j, "error"))) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(v, "desc");

		m->kind = QMP_ERROR;
		snprintf(m->text, sizeof(m->text), "%s",
			 cJSON_IsString(d) ? d->valuestring : "no description");
	} else {
		r = 0; /* {"event": …}: asynchronous, not an answer */
	}
	cJSON_Delete(j);
	return r;
}

int qmp_reader_take(struct qmp_reader *r, struct qmp_msg *m, struct err *e)
{
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		size_t n;
		int got;

		if (!nl) {
			if (r->len >= sizeof(r->buf) - 1)
				return err_set(e, EXIT_VERIFY,
					       "QEMU monitor: a message longer than %d bytes",
					       LIMIT_QMP_ANSWER);
			return 0;
		}
		*nl = '\0';
		n = (size_t)(nl - r->buf) + 1;
		got = r->buf[strspn(r->buf, " \r\t")] ? qmp_line(r->buf, m, e) : 0;
		memmove(r->buf, r->buf + n, r->len - n);
		r->len -= n;
		if (got)
			return got;
	}
}

/* The next answer (greeting, return or error) on q, waiting up to its timeout. */
static int qmp_next(struct qmp *q, const char *what, struct qmp_msg *m, struct err *e)
{
	for (;;) {
		struct pollfd pf = { .fd = q->fd, .events = POLLIN };
		char chunk[1024];
		ssize_t n;
		int r = qmp_reader_take(&q->r, m, e);

		if (r)
			return r < 0 ? -1 : 0;
		r = poll(&pf, 1, q->timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return err_set(e, EXIT_GUEST, "QEMU monitor: no answer to %s within %d ms",
				       what, q->timeout_ms);
		n = read(q->fd, chunk, sizeof(chunk));
		if (n <= 0)
			return err_set(e, EXIT_GUEST, "QEMU monitor closed during %s", what);
		if (qmp_reader_feed(&q->r, chunk, (size_t)n, e) < 0)
			return -1;
	}
}

/* Writes all of data; with fd >= 0, that fd rides along (SCM_RIGHTS). */
static int qmp_send(struct qmp *q, const char *data, size_t len, int fd, struct err *e)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (iov.iov_len) {
		ssize_t n = sendmsg(q->fd, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_errno(e, EXIT_GUEST, "QEMU monitor: cannot send");
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= (size_t)n;
		mh.msg_control = NULL; /* the fd went with the first bytes */
		mh.msg_controllen = 0;
	}
	return 0;
}

int qemu_qmp_open(struct qmp *q, const char *qmp_sock, int timeout_ms, struct err *e)
{
	struct qmp_msg m;

	memset(q, 0, sizeof(*q));
	q->timeout_ms = timeout_ms;
	if ((q->fd = proc_connect_unix(qmp_sock, e)) < 0)
		return -1;
	if (qmp_next(q, "greeting", &m, e) < 0 ||
	    qemu_qmp_call(q, "qmp_capabilities", NULL, -1, NULL, 0, e) < 0) {
		qemu_qmp_close(q);
		return -1;
	}
	return 0;
}

int qemu_qmp_call(struct qmp *q, const char *command, const char *args, int fd, char *ret,
		  size_t size, struct err *e)
{
	char req[LIMIT_QMP_ANSWER];
	struct qmp_msg m;
	int n = snprintf(req, sizeof(req), "{\"execute\":\"%s\"%s%s}\n", command,
			 args ? ",\"arguments\":" : "", args ? args : "");

	if (n < 0 || (size_t)n >= sizeof(req))
		return err_set(e, EXIT_USAGE, "QEMU monitor: %s: arguments too long", command);
	if (qmp_send(q, req, (size_t)n, fd, e) < 0)
		return -1;
	do {
		if (qmp_next(q, command, &m, e) < 0)
			return -1;
	} while (m.kind == QMP_GREETING);
	if (m.kind == QMP_ERROR)
		return err_set(e, EXIT_GUEST, "QEMU monitor refused %s: %s", command, m.text);
	if (ret && size)
		snprintf(ret, size, "%s", m.text);
	return 0;
}

void qemu_qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}

int qemu_qmp(const char *qmp_sock, const char *command, struct err *e)
{
	struct qmp q;
	int r;

	if (qemu_qmp_open(&q, qmp_sock, QMP_TIMEOUT_MS, e) < 0)
		return -1;
	r = qemu_qmp_call(&q, command, NULL, -1, NULL, 0, e);
	qemu_qmp_close(&q);
	return r;
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
