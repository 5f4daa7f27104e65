/* firecracker.h — Firecracker's HTTP API over its Unix socket, and starting it.
 *
 * Requests are built with cJSON and sent with libcurl (CURLOPT_UNIX_SOCKET_PATH),
 * following the v1.16.1 API (docs/vm.md): PUT /machine-config, /boot-source,
 * /drives/rootfs, /network-interfaces/eth0, /vsock, then /actions. A 4xx/5xx
 * answer becomes an error whose message carries Firecracker's fault_message on
 * one line and names the likely fix. Every call blocks until the VMM answers
 * (each request has a timeout, FC_REQUEST_TIMEOUT_MS).
 */
#ifndef BANGER_FIRECRACKER_H
#define BANGER_FIRECRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct err;
struct cJSON;

#define FC_REQUEST_TIMEOUT_MS 10000
#define FC_MIN_VERSION_MAJOR 1 /* Debian kernels boot over ACPI from 1.8 on */
#define FC_MIN_VERSION_MINOR 8

/* What one VM is made of; all paths as Firecracker must see them (inside
 * the jail when jailed). NULL/0 fields are left out of the requests. */
struct fc_vm {
	const char *kernel;    /* ELF vmlinux */
	const char *initrd;    /* may be NULL */
	const char *boot_args; /* whole kernel command line */
	const char *rootfs;
	const char *upper; /* NULL: rootfs is the VM's own writable disk; else
			    * rootfs is the shared base (read-only) and upper
			    * the VM's writable layer, the second drive */
	int vcpus;
	int mem_mib;
	const char *tap;    /* NULL: no network interface */
	const char *mac;    /* may be NULL */
	unsigned vsock_cid; /* 0: no vsock device */
	const char *vsock_uds;
};

/* Request bodies (exposed for tests). Each returns a new cJSON object the
 * caller frees with cJSON_Delete, or NULL when out of memory. */
struct cJSON *fc_body_machine(const struct fc_vm *vm);
struct cJSON *fc_body_boot(const struct fc_vm *vm);
struct cJSON *fc_body_rootfs(const struct fc_vm *vm);
struct cJSON *fc_body_upper(const struct fc_vm *vm);
struct cJSON *fc_body_net(const struct fc_vm *vm);
struct cJSON *fc_body_vsock(const struct fc_vm *vm);
struct cJSON *fc_body_action(const char *action_type);
/* PATCH /vm: {"state": "Paused" | "Resumed"}. */
struct cJSON *fc_body_vm_state(const char *state);
/* PUT /snapshot/create: a Full snapshot, device state and memory files. */
struct cJSON *fc_body_snapshot_create(const char *state_path, const char *mem_path);
/* PUT /snapshot/load: a File memory backend; tap and vsock_uds (may be
 * NULL) override where eth0 and the vsock device attach on this host. */
struct cJSON *fc_body_snapshot_load(const char *state_path, const char *mem_path, const char *tap,
				    const char *vsock_uds, bool resume);

/* Extracts fault_message from an error body into out (one line: newlines
 * become spaces). Falls back to the raw body, or "" when empty. Never fails. */
void fc_fault_message(const char *body, size_t len, char *out, size_t size);

/* One request: method and path ("/boot-source") on the API socket, body may
 * be NULL. Succeeds on 2xx; otherwise e says what Firecracker said. Blocks. */
int fc_request(const char *sock, const char *method, const char *path, const struct cJSON *body,
	       struct err *e);

/* fc_request with a timeout of its own (0: FC_REQUEST_TIMEOUT_MS; a
 * snapshot takes as long as its memory takes to write) and the 2xx
 * answer's body into out (may be NULL; cut at size). Blocks. */
int fc_call(const char *sock, const char *method, const char *path, const struct cJSON *body,
	    int timeout_ms, char *out, size_t size, struct err *e);

/* Sends the whole pre-boot configuration in order, stopping at the first
 * refusal. Blocks. */
int fc_configure(const char *sock, const struct fc_vm *vm, struct err *e);

/* PUT /actions with action_type InstanceStart or SendCtrlAltDel. Blocks. */
int fc_action(const char *sock, const char *action_type, struct err *e);

/* How to start the VMM process. */
struct fc_launch {
	const char *firecracker; /* executable path */
	const char *api_sock;	 /* host path of the API socket to create */
	const char *log;	 /* console and VMM output, appended */
	/* Jailer: when set, firecracker runs under it with chroot base jail_base
	 * and id jail_id; api_sock must then be jail_base/firecracker/ID/root/
	 * firecracker.socket (see fc_jail_root). */
	const char *jailer;
	const char *jail_base;
	const char *jail_id;
	uid_t uid;
	gid_t gid;
};

/* Starts the VMM detached (own session, stdin /dev/null, stdout and stderr
 * appended to log), then waits up to timeout_ms for its API socket to accept.
 * *pid is the started process (the VMM itself: the jailer execs it).
 * Fails with the exec error or the VMM's early death. Blocks. */
int fc_launch(const struct fc_launch *l, int timeout_ms, pid_t *pid, struct err *e);

/* jail_base/firecracker/ID/root into out: where the jailer chroots. */
int fc_jail_root(const char *jail_base, const char *id, char *out, size_t size, struct err *e);

/* Parses "Firecracker v1.16.1" (the first line of `firecracker --version`)
 * into major/minor/patch; -1 when it is not a version line. Never blocks. */
int fc_parse_version(const char *line, int *major, int *minor, int *patch);

#endif
