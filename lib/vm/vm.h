/* vm.h — daemonless VM state under BANGER_HOME/vms/NAME/, and its lifecycle.
 *
 * There is no daemon: each command reads the VM's directory, takes the VM's
 * lock (vms/.NAME.lock, store_lock) for anything that changes it, and
 * releases it when done. What a VM is lives in files (docs/vm.md):
 *
 *   config.json   what was asked for (vm_config, JSON)
 *   base.ext4     the image's disk, a hard link: shared, read-only (--disk overlay)
 *   upper.ext4    the VM's writable layer, sparse (--disk overlay, the default)
 *   rootfs.ext4   the VM's own copy of the image instead (--disk copy)
 *   console.log   the guest console and the VMM's own output
 *   pid           "PID STARTTIME" of the VMM (start time tells a reused PID)
 *   state         created | running | stopped
 *   api.sock      Firecracker API;  vsock.sock  Firecracker vsock
 *   agent.sock    QEMU virtio-serial agent channel;  qmp.sock  QEMU monitor
 *   forward.sock  QEMU virtio-serial port of the -p forwarder
 *
 * Functions block on disk I/O, and vm_start/vm_stop on the VMM.
 */
#ifndef BANGER_VM_H
#define BANGER_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/agent.h"
#include "limits.h"
#include "strlist.h"

struct agent_addr;
struct err;
struct snap_restore;
struct store;

#define VM_NAME_MAX 64
#define VM_DEFAULT_CPUS 1
#define VM_DEFAULT_MEM_MIB 512
#define VM_MAX_CPUS 32
#define VM_MAX_MEM_MIB (1024 * 1024)
#define VM_STOP_TIMEOUT_MS 15000
#define VM_KILL_WAIT_MS 5000
#define VM_AGENT_TIMEOUT_MS 10000 /* how long vm exec and vm cp wait for the agent */
#define VM_AGENT_PORT_NAME "org.banger.agent"
#define VM_DEFAULT_KERNEL "debian-cloud"
#define VM_DEFAULT_IMAGE "debian-bookworm"
#define VM_DEFAULT_IMAGE_REF "debian:bookworm" /* when no catalog has VM_DEFAULT_IMAGE */
#define VM_DEFAULT_UPPER (8ULL << 30)	       /* sparse: costs what the guest writes */
#define VM_MIN_UPPER (64ULL << 20)

struct vm_config {
	char name[VM_NAME_MAX + 1];
	char vmm[16]; /* "firecracker" | "qemu" */
	char kernel[VM_NAME_MAX + 1];
	char image[VM_NAME_MAX + 1];
	int cpus;
	int mem_mib;
	uint64_t disk_bytes; /* overlay: the upper's size (0: VM_DEFAULT_UPPER);
			      * copy: the disk's (0: the image's own size) */
	char disk[8];	     /* "overlay" | "copy" */
	char net[8];	     /* "tap" | "user" | "none" */
	bool nat;
	bool jail;
	char ip[16]; /* leased guest address (also the VM's identity) */
	char gateway[16];
	int prefix;
	char bridge[16];
	char tap[16];
	char mac[18];
	unsigned cid;	    /* vsock guest CID, >= 3 */
	int ssh_port;	    /* QEMU user networking: host port forwarded to the guest's 22 */
	char ssh_key[1024]; /* authorized key line passed as banger.ssh_key, may be "" */
	long long created;  /* Unix time */
	char init[8];	    /* banger.init for the guest: "" (auto), "systemd", "minimal" */
	char tmpfs[1024];   /* banger.tmpfs for the guest: "DIR:BYTES:MODE,…", "" none */
	/* What commands in the guest run with: the image's config, then vm
	 * run's -e/--env-file/-w/-u. vm exec starts from these. */
	struct strlist env;			  /* "K=V" */
	char workdir[LIMIT_PATH];		  /* "" the user's home */
	char user[LIMIT_RUN_USER];		  /* "" root */
	struct agent_port ports[AGENT_PORTS_MAX]; /* -p: published through the agent */
	int nports;
	/* vm_start: load this snapshot instead of booting (snapshot.h's
	 * snap_start sets it; never in config.json). */
	const struct snap_restore *restore;
	/* vm_create: this disk instead of images/IMAGE/rootfs.ext4 (an image
	 * being built: lib/vm/build.c; never in config.json). */
	const char *base_disk;
};

struct vm_paths {
	char dir[LIMIT_PATH];
	char config[LIMIT_PATH];
	char rootfs[LIMIT_PATH];
	char base[LIMIT_PATH];
	char upper[LIMIT_PATH];
	char console[LIMIT_PATH];
	char pid[LIMIT_PATH];
	char state[LIMIT_PATH];
	char api_sock[LIMIT_PATH];
	char vsock[LIMIT_PATH];
	char agent_sock[LIMIT_PATH];
	char fwd_sock[LIMIT_PATH]; /* QEMU: the -p forwarder's own virtio-serial port */
	char qmp_sock[LIMIT_PATH];
	char jail[LIMIT_PATH];
	char leases[LIMIT_PATH];  /* BANGER_HOME/net/leases: VMs without a tap (net.h) */
	char forward[LIMIT_PATH]; /* forward.pid: the port forwarder's "PID STARTTIME" */
};

enum vm_status { VM_CREATED, VM_RUNNING, VM_STOPPED, VM_DEAD };

/* Fills the paths of vms/NAME (nothing is created). EXIT_USAGE on a bad name. */
int vm_paths_init(const struct store *s, const char *name, struct vm_paths *p, struct err *e);

/* Defaults for a new VM named name. Never fails. */
void vm_config_defaults(struct vm_config *c, const char *name);

/* config.json text (malloc'd, caller frees). */
char *vm_config_to_json(const struct vm_config *c, struct err *e);
/* Parses config.json; unknown keys are ignored, missing ones keep defaults,
 * wrong types and over-long strings are EXIT_VERIFY. */
int vm_config_from_json(const char *text, size_t len, struct vm_config *c, struct err *e);
int vm_config_load(const struct vm_paths *p, struct vm_config *c, struct err *e);
int vm_config_save(const struct vm_paths *p, const struct vm_config *c, struct err *e);

enum vm_copy_how { VM_COPY_LINK, VM_COPY_REFLINK, VM_COPY_SPARSE };
/* Copies src to a new file dst: FICLONE when the filesystem shares blocks,
 * else only the data extents (SEEK_DATA/SEEK_HOLE), so holes stay holes.
 * size > the source's size grows dst (sparse). *how says which (may be NULL). */
int vm_copy_disk(const char *src, const char *dst, uint64_t size, enum vm_copy_how *how,
		 struct err *e);

/* Start time (clock ticks since boot, /proc/PID/stat field 22) of pid; 0 if
 * it does not exist or is a zombie. */
unsigned long long vm_proc_starttime(pid_t pid);

/* Reads state and pid: RUNNING only when the recorded process is alive and
 * is the same process (start time); a recorded-running VM whose process is
 * gone is VM_DEAD. *pid gets the recorded pid (0 if none; may be NULL). */
enum vm_status vm_status_get(const struct vm_paths *p, pid_t *pid);
const char *vm_status_name(enum vm_status s);

int vm_state_set(const struct vm_paths *p, const char *state, struct err *e);
int vm_pid_save(const struct vm_paths *p, pid_t pid, struct err *e);

/* The kernel command line: console, reboot/panic policy, root (QEMU),
 * ip= when networked, banger.* parameters, extra (may be NULL). */
int vm_boot_args(const struct vm_config *c, bool qemu_tcg, const char *extra, char *out,
		 size_t size, struct err *e);

/* Applies one command-line option (long name without "--": name, image,
 * kernel, cpus, memory, disk-size, vmm, net, ssh-key, nat, jail, init,
 * mount) to c; mount is docker's "type=tmpfs,destination=DIR[,tmpfs-size=
 * SIZE][,tmpfs-mode=OCTAL]" (other types are refused), repeatable. Sizes take suffixes (--memory 1G; a bare number is MiB). EXIT_USAGE
 * with a message naming the option when arg is bad. */
int vm_config_option(struct vm_config *c, const char *opt, const char *arg, struct err *e);

/* The struct option entries (flag 0, so getopt_long returns 0 and the long
 * name goes to vm_config_option) of every option vm_config_option takes
 * except publish, whose short -p each applet maps itself: one list, so
 * vm-create and vm-run accept the same VM options. Needs <getopt.h>. */
/* clang-format off */
#define VM_CONFIG_LONG_OPTIONS                          \
	{ "name", required_argument, NULL, 0 },         \
	{ "image", required_argument, NULL, 0 },        \
	{ "kernel", required_argument, NULL, 0 },       \
	{ "cpus", required_argument, NULL, 0 },         \
	{ "memory", required_argument, NULL, 0 },       \
	{ "disk-size", required_argument, NULL, 0 },    \
	{ "disk", required_argument, NULL, 0 },         \
	{ "net", required_argument, NULL, 0 },          \
	{ "nat", no_argument, NULL, 0 },                \
	{ "ssh-key", required_argument, NULL, 0 },      \
	{ "vmm", required_argument, NULL, 0 },          \
	{ "jail", no_argument, NULL, 0 },               \
	{ "init", required_argument, NULL, 0 },         \
	{ "mount", required_argument, NULL, 0 }
/* clang-format on */

/* Fills what the options left unset: vmm (vm_pick_vmm), net (tap as root,
 * else user for QEMU, none for Firecracker; --nat implies tap), kernel and
 * image (VM_DEFAULT_*), a random name "vm-XXXXXX". Start from a zeroed
 * config with vm_config_defaults(c, "") and clear vmm and net first.
 * Options that contradict each other are EXIT_USAGE naming both (--nat
 * with --net user|none, --jail with QEMU, an odd --cpus for Firecracker);
 * an explicit --vmm firecracker where it cannot run is EXIT_NOTFOUND, not
 * a quiet QEMU. *fallback (may be NULL) gets why Firecracker was not
 * picked when QEMU was chosen for the caller ("" otherwise). */
int vm_config_finish(struct vm_config *c, char *fallback, size_t size, struct err *e);

/* Creates vms/NAME from c (name, image, kernel, vmm, cpus, memory, disk,
 * net, nat, jail, ssh_key set by the caller): checks the kernel and image
 * are installed, copies the image's disk (vm_copy_disk), leases the address
 * and fills the network fields, writes config.json and state "created", all
 * in a staging directory renamed in at the end. Takes and releases the VM's
 * lock. EXIT_BUSY when the VM exists. */
int vm_create(const struct store *s, struct vm_config *c, enum vm_copy_how *how, struct err *e);

/* The banger.dns= parameter for the guest into out, which it returns ("" for
 * none): QEMU's 10.0.2.3 with user networking; with --nat the first three
 * nameservers of resolv (the host's /etc/resolv.conf) that are not on its
 * loopback. */
const char *vm_dns_arg(const struct vm_config *c, char *out, size_t size, const char *resolv);

/* Takes the VM's lock (waits). Returns the fd for lock_release. */
int vm_lock(const struct store *s, const char *name, struct err *e);
/* The VM called name, for a change: its paths into p, its lock taken, its
 * config into c. Returns the lock (lock_release), or -1 with nothing held. */
int vm_open_locked(const struct store *s, const char *name, struct vm_paths *p, struct vm_config *c,
		   struct err *e);

/* Boots a created or stopped VM with its backend; the caller holds the
 * lock. notice (may be NULL) receives a one-line note when the backend
 * chosen at creation cannot run here and another is used, or when this
 * start created the host's bridge. */
int vm_start(const struct store *s, const struct vm_paths *p, struct vm_config *c, char *notice,
	     size_t notice_size, struct err *e);

/* Orderly shutdown — the guest agent's shutdown (vm_agent_shutdown), else
 * Ctrl-Alt-Del (Firecracker) or the ACPI power button (QEMU) — then SIGTERM
 * and SIGKILL once timeout_ms has passed; force skips the orderly part. */
int vm_stop(const struct vm_paths *p, const struct vm_config *c, int timeout_ms, bool force,
	    struct err *e);

/* Sends sig to the VM's VMM (SIGKILL pulls the power). When the VMM is gone
 * within VM_KILL_WAIT_MS its sockets go, the state becomes "stopped" and
 * *gone is true; a signal it survives leaves it running. EXIT_NO when the
 * VM is not running. */
int vm_kill(const struct vm_paths *p, const struct vm_config *c, int sig, bool *gone,
	    struct err *e);

/* Stops it if needed and removes everything it owns: tap, NAT rules, lease
 * (and the bridge when it was the last lease of any store on the host), its
 * directory. */
int vm_remove(const struct store *s, const struct vm_paths *p, const struct vm_config *c,
	      struct err *e);

/* How the host reaches the guest agent: the VM's virtio-serial socket
 * (QEMU) or its Firecracker hybrid vsock socket (inside the jail with
 * --jail), port AP_PORT. EXIT_USAGE when the path does not fit a socket. */
int vm_agent_address(const struct vm_paths *p, const struct vm_config *c, struct agent_addr *out,
		     struct err *e);

/* Readiness: waits until the guest agent answers (READY), up to
 * timeout_ms, in this process. EXIT_GUEST naming the VM and 'vm logs' when
 * it does not, or when the VMM exits meanwhile (no point waiting on). */
int vm_wait_agent(const struct vm_paths *p, const struct vm_config *c, int timeout_ms,
		  struct err *e);

/* Asks the guest agent to power off (lib/agent's agent_shutdown, in this
 * process); 0 once the agent accepted. -1 when there is no agent socket or
 * no answer within timeout_s. Blocks. */
int vm_agent_shutdown(const struct vm_paths *p, const struct vm_config *c, int timeout_s);

/* Published ports (-p, forward.c). vm_forward_listen binds every port of c
 * (EXIT_BUSY naming one in use), so a start fails before the VMM runs;
 * vm_forward_spawn forks the forwarder (lib/agent's agent_forward, in a
 * daemon of this process: no second banger) that lives until the VMM pid
 * exits or vm_forward_stop, records it in p->forward and closes fds here.
 * Both are no-ops without ports. */
int vm_forward_listen(const struct vm_config *c, int *fds, struct err *e);
int vm_forward_spawn(const struct vm_paths *p, const struct vm_config *c, pid_t vmm, int *fds,
		     struct err *e);
void vm_forward_stop(const struct vm_paths *p);

/* Which VMM to use: "firecracker" when it is found and /dev/kvm is usable,
 * else "qemu". reason gets why firecracker was not chosen ("" otherwise). */
const char *vm_pick_vmm(char *reason, size_t size);

/* Finds an executable: env var (if set) else NAME on PATH, into out. */
int vm_find_exe(const char *env, const char *name, char *out, size_t size);

/* True when /dev/kvm can be opened read-write. */
bool vm_kvm_usable(void);
/* True when a QEMU start on this host's current boot found KVM spinning
 * the guest (no kernel banner within 5 s): later starts use TCG at once. */
bool vm_kvm_hangs(const struct store *s);
/* Whether QEMU is started with KVM: usable and BANGER_ACCEL is not "tcg"
 * (it may still fall back to TCG when QEMU fails with KVM). */
bool vm_qemu_wants_kvm(void);

#define VM_DISKS_MAX 4
/* The disks the guest writes, as paths in p (upper.ext4 for --disk
 * overlay, rootfs.ext4 for copy): what a snapshot copies and a restore
 * puts back. Returns how many. Never fails. */
int vm_writable_disks(const struct vm_paths *p, const struct vm_config *c,
		      const char *paths[VM_DISKS_MAX]);
/* The shared read-only base the VM runs on (p->base), or NULL when it has
 * none (--disk copy). */
const char *vm_base_disk(const struct vm_paths *p, const struct vm_config *c);

#endif
