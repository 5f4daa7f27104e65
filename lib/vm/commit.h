/* commit.h — what a VM changed, and a new image made of it.
 *
 * A VM made with --disk overlay (the default) boots an overlay of its
 * image's disk (vms/NAME/base.ext4, read-only) and its own layer
 * (vms/NAME/upper.ext4: upper/ is overlayfs's upperdir, work/ its workdir).
 * The guest mounts it with index, metacopy and redirect_dir off, so the
 * layer holds only whole copied-up or new files, directories, symlinks and
 * devices, whiteouts (character devices 0:0) and opaque directories
 * (trusted.overlay.opaque "y"); other trusted.overlay.* xattrs are the
 * overlay's bookkeeping and never part of a file. Both disks are read with
 * lib/ext4/read.h, as untrusted images: never written, never mounted.
 *
 * Functions block on reading the disks (and vm_commit on writing the new
 * image).
 */
#ifndef BANGER_VM_COMMIT_H
#define BANGER_VM_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct store;
struct vm_config;
struct vm_paths;

/* One change, as docker diff says it: 'A' added, 'C' changed (content,
 * metadata, or replaced; a directory something below changed in), 'D'
 * deleted. path is absolute. */
struct vm_change {
	char kind;
	char *path;
};

/* Caller-owned (vm_changes_fini). */
struct vm_changes {
	struct vm_change *v;
	size_t n, cap;
};
void vm_changes_fini(struct vm_changes *ch);

/* The changes of the VM of paths p (config c) against its image, sorted by
 * path: an entry of the layer that its image has is C, else A; a whiteout
 * is D (when the image has what it hides); an opaque directory is C and
 * what it hides of the image's directory D; a deleted directory is one D,
 * not one per file. A VM never booted has none. A running VM is read as
 * its guest last wrote to the disk (the journal's committed transactions
 * included): *running (may be NULL) says so, for the caller to warn that
 * what sits in the guest's page cache is not seen. A VM with a flat disk
 * (--disk copy) has no layer: EXIT_USAGE. Paths hold the names' bytes as
 * they are (a newline too, as docker diff prints them). */
int vm_diff(const struct vm_paths *p, const struct vm_config *c, struct vm_changes *out,
	    bool *running, struct err *e);

struct vm_commit_opts {
	bool force;    /* replace an image of that name */
	bool progress; /* the writer's bar (TTY only) */
};

/* What vm_commit did, for the caller to say. */
struct vm_committed {
	char dir[4096];	 /* images/IMAGE */
	char digest[80]; /* "sha256:HEX" of its rootfs.ext4 */
	unsigned long long size;
	size_t changes;	  /* entries of the layer applied (whiteouts included) */
	char notice[512]; /* "" or one line about the image config kept */
};

/* Flattens the stopped VM vm into the new image image: the image's disk
 * with the layer applied as overlayfs shows it (whiteouts delete, opaque
 * directories hide, hard links, sparse files, devices and xattrs kept,
 * trusted.overlay.* dropped), written by the native writer
 * (lib/ext4/ext4.h) into images/.IMAGE.staging.PID with a manifest.json
 * (source "commit:VM", the base image's run config: Env, Cmd…) and an
 * empty layers file (no OCI blobs: image prune need keep none), then
 * renamed in (file_commit_dir): never half-installed. A VM with a flat disk
 * (--disk copy) gives a copy of that disk. Holds the VM's lock (a start
 * waits) and the image's. A running VM is EXIT_BUSY naming vm stop; an
 * existing image without force EXIT_BUSY naming -f. */
int vm_commit(const struct store *s, const char *vm, const char *image,
	      const struct vm_commit_opts *o, struct vm_committed *out, struct err *e);

/* The flattening itself, of any base disk and overlay layer disk (upper:
 * an ext4 whose /upper is the upperdir) into a new image at out. Used by
 * vm_commit and by the image builds whose second stage runs in a VM. */
struct vm_flatten_opts {
	const char *label, *seed; /* the writer's (ext4.h) */
	uint64_t size;		  /* 0: from the content */
	long long clamp;	  /* > 0: every mtime after it brought down to it, and
				   * atime and ctime set to the mtime (reproducible) */
	bool progress;
};
int vm_flatten(const char *base, const char *upper, const char *out,
	       const struct vm_flatten_opts *o, struct vm_committed *res, struct err *e);

#endif
