/* snapshot.h — a running VM saved to files, and a VM started from them
 * instead of booting (docs/snapshots.md).
 *
 * BANGER_HOME/snapshots/NAME/:
 *   manifest.json  what it was taken of (struct snap_manifest) and every
 *                  file with its size and SHA-256
 *   state.mig      QEMU: the migration stream, device state and memory
 *   vmstate        Firecracker: the device state;  memory: guest memory
 *   upper.ext4     copies of the VM's writable disks (vm_writable_disks:
 *                  upper.ext4, or rootfs.ext4 for --disk copy), as they
 *                  were while the vCPUs stood still
 *   base.ext4      the shared base the VM ran on, a hard link (free; keeps
 *                  those bytes while the snapshot lives)
 *
 * Saving: the vCPUs stop (QMP stop, Firecracker PATCH /vm Paused); QEMU
 * migrates into a file descriptor we pass it (getfd, migrate fd:),
 * Firecracker writes PUT /snapshot/create's two files; the writable disks
 * are copied (reflink, else their data extents); the VM runs on.
 * Restoring: the manifest is checked against the VM (snap_check), the disk
 * copies are put in place, and the VMM starts with the VM's own devices
 * but loads the state instead of booting: QEMU -S -incoming defer, getfd,
 * migrate-incoming, cont; Firecracker PUT /snapshot/load on a fresh VMM
 * (before any other configuration, as it requires), resume_vm true.
 *
 * The restored guest is the saved one: its hostname, address, machine-id,
 * RNG state and clock too, until something re-applies them.
 *
 * All calls block on disk I/O and on the VMM; none prints.
 */
#ifndef BANGER_SNAPSHOT_H
#define BANGER_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "digest.h"
#include "limits.h"
#include "vm/vm.h"

struct err;
struct store;

#define SNAP_FILES_MAX 8
#define SNAP_SAVE_TIMEOUT_MS (10 * 60 * 1000) /* the whole save of a VM's memory */
#define SNAP_LOAD_TIMEOUT_MS (10 * 60 * 1000) /* the whole load */
#define SNAP_DISK_BLOCK 4096		      /* the disk digest's unit */

struct snap_file {
	char name[32]; /* in the snapshot's directory */
	char role[8];  /* "state", "memory", "disk" (hashed), "base" (by identity) */
	uint64_t size;
	char sha256[DIGEST_HEX_LEN + 1]; /* disks: snap_disk_digest; base: "" */
};

/* What a snapshot was taken of; what a VM must be to start from it. */
struct snap_manifest {
	char name[VM_NAME_MAX + 1];
	char vm[VM_NAME_MAX + 1]; /* the VM it was taken of */
	long long created;	  /* Unix time */
	char banger_version[128];
	char vmm[16];
	char vmm_version[128];
	char accel[8]; /* "kvm" or "tcg" (QEMU); "kvm" (Firecracker) */
	char kernel[VM_NAME_MAX + 1];
	char kernel_digest[80]; /* "sha256:HEX", the kernel's manifest.json sha256 */
	char initrd_digest[80]; /* "sha256:HEX" of the initramfs it booted with */
	char image[VM_NAME_MAX + 1];
	char image_digest[80]; /* the image's digest when the VM's base was that
				* image's file; "" when it was not (an older
				* pull, --disk copy) */
	char base_id[64];      /* "DEV:INODE" of the base it ran on ("" for copy) */
	int cpus;
	int mem_mib;
	char disk[8]; /* "overlay" | "copy" */
	char net[8];
	/* Firecracker's state names the disks by path: it restores only
	 * where they are (the VM's own directory). */
	char vm_dir[LIMIT_PATH];
	struct snap_file files[SNAP_FILES_MAX];
	int nfiles;
	long long save_ms;     /* measured: the whole save */
	long long downtime_ms; /* measured: vCPUs stopped */
};

/* manifest.json text (malloc'd) and back; unknown keys are ignored, wrong
 * types, over-long strings and too many files are EXIT_VERIFY. */
char *snap_manifest_to_json(const struct snap_manifest *m, struct err *e);
int snap_manifest_from_json(const char *text, size_t len, struct snap_manifest *m, struct err *e);
/* snapshots/NAME/manifest.json; EXIT_NOTFOUND naming 'snapshot list'. */
int snap_manifest_load(const struct store *s, const char *name, char *dir, size_t size,
		       struct snap_manifest *m, struct err *e);

/* What a snapshot of VM c (paths p) records, and what one must record to
 * start c: the banger version, VMM, kernel and its digest, the initramfs'
 * digest (initramfs_ensure: may build it), image and its digest, base
 * identity, cpus, memory, disk layout, network. vmm_version and accel are
 * the VMM's to say (left ""). */
int snap_expect(const struct store *s, const struct vm_paths *p, const struct vm_config *c,
		struct snap_manifest *want, struct err *e);

/* Whether snapshot m can start a VM that is want (snap_expect): the first
 * difference is EXIT_VERIFY, one line naming the snapshot, what differs
 * and the fix. Pure. vmm_version is checked by the VMM's restore (only
 * the VMM can say its own). */
int snap_check_identity(const struct snap_manifest *m, const struct snap_manifest *want,
			struct err *e);
/* Every file of m in dir: present, m's size, m's digest (a corrupt or
 * truncated memory file is EXIT_VERIFY naming it). Reads them all. */
int snap_check_files(const char *dir, const struct snap_manifest *m, struct err *e);

/* SHA-256 over a disk's non-zero SNAP_DISK_BLOCK blocks, each preceded by
 * its offset (8 bytes, little-endian), then the size: holes and zero
 * blocks count the same, so a sparse copy and a dense one agree, and an
 * 8 GiB layer costs what its guest wrote. */
int snap_disk_digest(const char *path, char hex[DIGEST_HEX_LEN + 1], struct err *e);

/* How the VMM restores; lives while vm_start runs (vm_config.restore). */
struct snap_restore {
	char dir[LIMIT_PATH];
	struct snap_manifest m;
};

/* For vm.c's start_qemu/start_firecracker: a VMM started for r loads its
 * state instead of booting. QEMU: started with -S -incoming defer, whose
 * version must be the snapshot's; getfd, migrate-incoming, then cont once
 * the stream is in. Firecracker: a fresh VMM of the snapshot's version,
 * PUT /snapshot/load (tap and vsock_uds override where eth0 and the vsock
 * attach; may be NULL), resumed. Blocks up to SNAP_LOAD_TIMEOUT_MS. */
int snap_restore_qemu(const char *qmp_sock, const struct snap_restore *r, struct err *e);
int snap_restore_firecracker(const char *api_sock, const struct snap_restore *r, const char *tap,
			     const char *vsock_uds, struct err *e);

/* vm snapshot: saves the running VM (p, c; the caller holds its lock) as
 * snapshots/name, built in a staging directory renamed in at the end; the
 * vCPUs stop for the save and the disk copies, then run on (a VM that was
 * paused stays paused). *m gets the manifest written. EXIT_BUSY when the
 * snapshot exists, EXIT_NO when the VM is not running, EXIT_NOTIMPL for a
 * jailed VM. On failure nothing is left and the VM runs as before. */
int snap_create(const struct store *s, const struct vm_paths *p, const struct vm_config *c,
		const char *name, struct snap_manifest *m, struct err *e);

/* vm start --from: starts VM p/c (created or stopped; the caller holds
 * its lock) from snapshot name: checks it (identity and files), replaces
 * the VM's writable disks with the snapshot's copies, then vm_start with
 * the restore (notice as vm_start's). Holds the snapshot's lock meanwhile.
 * *check_ms (may be NULL) gets the time the checks took. */
int snap_start(const struct store *s, const struct vm_paths *p, struct vm_config *c,
	       const char *name, char *notice, size_t notice_size, long long *check_ms,
	       struct err *e);

/* After a restore: gives the guest back its own identity through the
 * agent (AP_IDENTITY, agent/identity.h): the VM's name as hostname, a
 * fresh machine-id, 64 bytes of host entropy (the guest's CRNG reseeds),
 * the host's clock, and for tap networking its own address. Waits up to
 * timeout_ms for the agent. EXIT_GUEST naming the VM when it was not
 * applied. Blocks. */
int snap_identity(const struct vm_paths *p, const struct vm_config *c, int timeout_ms,
		  struct err *e);

/* ---- vm run's boot cache -----------------------------------------------
 * An entry is an ordinary snapshot named SNAP_CACHE_PREFIX + 16 hex digits
 * of a SHA-256 over what a booted guest depends on: the banger version,
 * VMM and its executable (path, size, mtime), accelerator, kernel and its
 * digest, the initramfs' digest, the image, its digest and the base file,
 * cpus, memory, disk layout and size, network kind, and what first-boot is
 * told besides the hostname and address (SSH key, init, tmpfs mounts).
 * QEMU only: Firecracker's state names the disks' absolute paths, so an
 * entry could start only the VM it was taken of. */
#define SNAP_CACHE_PREFIX "cache-"

/* The entry's name for VM c into name (size >= VM_NAME_MAX + 1): 0; 1 when
 * c cannot be cached (Firecracker, jailed, no base disk); -1 with e set
 * (snap_expect's errors). Hashes the initramfs; may build it. */
int snap_cache_name(const struct store *s, const struct vm_paths *p, const struct vm_config *c,
		    char *name, size_t size, struct err *e);

/* Starts VM p/c (created; the caller holds its lock) from cache entry name
 * when there is one, then re-applies its identity (snap_identity, waiting
 * up to timeout_ms): 1. With no entry, 0 and nothing done. When the entry
 * is refused (corrupt, truncated, another banger/kernel/image…) or its
 * restore fails, why gets the one-line reason, the VM's disks are made
 * fresh again, and 0: the caller boots cold. -1 only when the VM could not
 * be put back to a cold-bootable state, or the identity failed after a
 * restore (the VM runs). notice as vm_start's. Blocks. */
int snap_cache_start(const struct store *s, const struct vm_paths *p, struct vm_config *c,
		     const char *name, int timeout_ms, char *notice, size_t notice_size, char *why,
		     size_t why_size, struct err *e);

/* snapshot prune: removes every cache entry (each under its lock); *n gets
 * how many. A failure stops at the first entry that cannot go. */
int snap_cache_prune(const struct store *s, int *n, struct err *e);

/* Disk space (allocated blocks) the snapshot's files of role take (NULL:
 * all its own, not the base, which is the image's). Never fails
 * (unreadable files count 0). */
uint64_t snap_own_bytes(const char *dir, const struct snap_manifest *m, const char *role);

/* snapshot rm: removes snapshots/name under its lock. EXIT_NOTFOUND. */
int snap_remove(const struct store *s, const char *name, struct err *e);

#endif
