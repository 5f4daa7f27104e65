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
};

/* The argument vector, pointing into store (QEMU_ARG_BYTES, caller's).
 * argv has QEMU_ARGV_MAX slots and ends with NULL. Pure. */
int qemu_argv(const struct qemu_vm *q, char **argv, char *store, struct err *e);

/* Starts QEMU detached (own session, output appended to log), waits up to
 * timeout_ms for its monitor socket. Blocks. */
int qemu_launch(const struct qemu_vm *q, const char *log, int timeout_ms, pid_t *pid,
		struct err *e);

/* Sends a QMP command ("system_powerdown", "quit") over the monitor socket.
 * Blocks up to a few seconds. */
int qemu_qmp(const char *qmp_sock, const char *command, struct err *e);

/* Starts QEMU with KVM, stopped (-S), and quits it over QMP on stdin: true
 * when it got that far. /dev/kvm can open yet fail QEMU (broken nested
 * virtualization). Blocks up to 5 s. */
bool qemu_kvm_works(const char *qemu);

#endif
