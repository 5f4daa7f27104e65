/* qemu.h — the QEMU backend: `qemu-system-x86_64 -M microvm`.
 *
 * Same kernel, initramfs and disk as Firecracker. KVM when /dev/kvm is
 * usable, else TCG (the command line then needs tsc_early_khz, see
 * docs/vm.md). The guest agent is reached over a virtio-serial port named
 * org.banger.agent whose host end is a Unix socket; the console goes to the
 * VM's log; the monitor (QMP) socket asks for an ACPI power-down.
 */
#ifndef BANGER_QEMU_H
#define BANGER_QEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "limits.h"

struct err;

#define QEMU_ARGV_MAX 64
#define QEMU_ARG_BYTES 8192

struct qemu_vm {
	const char *qemu; /* executable */
	const char *kernel;
	const char *initrd; /* may be NULL */
	const char *cmdline;
	const char *rootfs;
	const char *upper; /* NULL: rootfs is writable; else rootfs is the
			    * shared base, attached read-only, and upper the
			    * VM's writable layer (/dev/vdb) */
	int cpus;
	int mem_mib;
	bool kvm;
	const char *net; /* "tap", "user" or "none" */
	const char *tap; /* with "tap" */
	const char *mac; /* may be NULL */
	int ssh_port;	 /* "user": host port 127.0.0.1:ssh_port → guest 22 (0: none) */
	const char *agent_sock;
	const char *fwd_sock; /* the forwarder's port (AP_SERIAL_FORWARD_NAME); may be NULL */
	const char *qmp_sock;
	bool incoming; /* restore: start stopped (-S) and wait for a migration
			* stream (-incoming defer, then migrate-incoming) */
};

/* The argument vector, pointing into store (QEMU_ARG_BYTES, caller's).
 * argv has QEMU_ARGV_MAX slots and ends with NULL. Pure. */
int qemu_argv(const struct qemu_vm *q, char **argv, char *store, struct err *e);

/* Starts QEMU detached (own session, output appended to log), waits up to
 * timeout_ms for its monitor socket. Blocks. */
int qemu_launch(const struct qemu_vm *q, const char *log, int timeout_ms, pid_t *pid,
		struct err *e);

#define QMP_TIMEOUT_MS 3000 /* one answer of the monitor */

/* QMP's answers, fed bytes as they come (a state machine, no socket):
 * lines of JSON, of which events are skipped. */
struct qmp_reader {
	char buf[LIMIT_QMP_ANSWER];
	size_t len;
};
enum qmp_kind { QMP_GREETING, QMP_RETURN, QMP_ERROR };
struct qmp_msg {
	enum qmp_kind kind;
	char text[LIMIT_QMP_ANSWER]; /* return: its value as JSON; error: its desc */
};
/* Appends n bytes; EXIT_VERIFY when a line would pass LIMIT_QMP_ANSWER. */
int qmp_reader_feed(struct qmp_reader *r, const char *data, size_t n, struct err *e);
/* 1 and *m when a whole answer line is buffered (events before it are
 * dropped), 0 when more bytes are needed, -1 (EXIT_VERIFY) on a line that
 * is not a JSON object or is too long. Never blocks. */
int qmp_reader_take(struct qmp_reader *r, struct qmp_msg *m, struct err *e);

/* One conversation on a monitor socket. QEMU serves one client at a time:
 * keep it short. */
struct qmp {
	int fd;
	int timeout_ms; /* for each answer */
	struct qmp_reader r;
};
/* Connects, reads the greeting and negotiates capabilities. Blocks. */
int qemu_qmp_open(struct qmp *q, const char *qmp_sock, int timeout_ms, struct err *e);
/* Runs command with args (a JSON object's text, or NULL); fd >= 0 is passed
 * along (SCM_RIGHTS), as getfd wants. The "return" value's JSON text goes to
 * ret (may be NULL). A QMP error is EXIT_GUEST with QEMU's description.
 * Blocks up to q->timeout_ms. */
int qemu_qmp_call(struct qmp *q, const char *command, const char *args, int fd, char *ret,
		  size_t size, struct err *e);
void qemu_qmp_close(struct qmp *q);

/* One command without arguments ("system_powerdown", "quit") in a
 * conversation of its own. Blocks up to a few seconds. */
int qemu_qmp(const char *qmp_sock, const char *command, struct err *e);

/* Starts QEMU with KVM, stopped (-S), and quits it over QMP on stdin: true
 * when it got that far. /dev/kvm can open yet fail QEMU (broken nested
 * virtualization). Blocks up to 5 s. */
bool qemu_kvm_works(const char *qemu);

#endif
