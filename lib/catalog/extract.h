/* extract.h — confined unpacking of archive entries into a directory.
 *
 * Generic and deliberately simple (bundles, .deb payloads): entry names
 * must be relative without "..", every parent directory is opened inside
 * the root component by component with O_NOFOLLOW (a symlink planted by an
 * earlier entry is never followed, so nothing is written outside), symlink
 * targets must be relative, with ".." only in front, and stay inside the
 * root (so links followed later cannot lead out either), hard links must name
 * an earlier regular file inside the root, and only regular files,
 * directories, symlinks and hard links are accepted. Owners are not kept
 * (everything belongs to the caller); permission bits are kept without
 * setuid/setgid/sticky. With rootfs set (a root file system that a chroot
 * will run: Debian packages), owners, setuid/setgid/sticky, devices and
 * FIFOs are kept and symlink targets are not checked — they are never
 * followed here, and inside the chroot they resolve inside it. OCI layer
 * replay (whiteouts, into an ext4 image) is a different job:
 * lib/oci/layer.c.
 *
 * Unsafe entries fail with EXIT_VERIFY and a message naming the entry and
 * saying the archive was refused. Blocks on disk I/O.
 */
#ifndef BANGER_EXTRACT_H
#define BANGER_EXTRACT_H

#include <stdbool.h>

struct archive;
struct archive_entry;
struct err;

struct extract {
	int root;	    /* the directory everything lands in (owned) */
	const char *what;   /* the archive, for messages */
	const char *strip;  /* optional: removed from the front of names that start with it */
	const char *prefix; /* optional: put in front of every name ("modules/") */
	bool rootfs;	    /* keep owners, all mode bits, devices; any symlink target */
};

/* Opens dir (which must exist) as the root. */
int extract_open(struct extract *x, const char *dir, const char *what, struct err *e);
void extract_close(struct extract *x);

/* Unpacks the entry whose header was just read from a (its data too).
 * Returns 0; -1 with e set; or EXTRACT_ARCHIVE_FAILED when libarchive
 * itself failed reading the data (the caller reports archive_error_string
 * or its source's error). */
#define EXTRACT_ARCHIVE_FAILED (-2)
int extract_entry(struct extract *x, struct archive *a, struct archive_entry *ae, struct err *e);

/* True when a symlink named name (relative to the root) with this target
 * stays inside the root: relative, ".." only as leading components, and
 * no more of them than the link's directory is deep. */
bool extract_link_confined(const char *name, const char *target);

#endif
