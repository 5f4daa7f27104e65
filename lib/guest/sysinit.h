/* sysinit.h — what an init does to a Linux system: mounts, console, root
 * filesystem growth, shutdown, switch_root.
 *
 * Used by PID 1 (first-boot) and the initramfs /init: nothing here prints,
 * exits or allocates on the heap. Functions that could partly succeed (mount
 * several filesystems) go on after a failure and report the first one.
 * Root-only; none blocks except where noted.
 */
#ifndef BANGER_SYSINIT_H
#define BANGER_SYSINIT_H

#include <stdbool.h>
#include <stdint.h>

struct err;

/* Mounts /proc, /sys, /dev (devtmpfs), /dev/pts, /dev/shm and /run (tmpfs)
 * where they are not mounted yet, creating the mount points if missing.
 * Already-mounted ones (moved in by the initramfs) are left alone. */
int sysinit_mount_api(struct err *e);

/* Makes fds 0, 1 and 2 valid: those that are closed are opened on
 * /dev/console, else /dev/null, so writes to the console never hit EBADF. */
void sysinit_console(void);

/* True when path is a mount point of a filesystem other than its parent's. */
bool sysinit_is_mountpoint(const char *path);

/* Remounts / read-write when it is read-only. */
int sysinit_remount_root_rw(struct err *e);

/* Grows the ext4 filesystem mounted at mnt online (EXT4_IOC_RESIZE_FS) to
 * the size of its block device (/sys/dev/block/MAJ:MIN/size). Returns 1 and
 * the sizes in bytes when it grew, 0 when there was nothing to do (not ext4,
 * not on a block device, already full size), -1 on failure. Blocks while
 * the kernel extends the filesystem. */
int sysinit_grow_root(const char *mnt, uint64_t *old_bytes, uint64_t *new_bytes, struct err *e);

/* What udev would do for virtio-serial ports: a /dev/virtio-ports/NAME link
 * to ../vportXpY for each port in /sys/class/virtio-ports that has a name
 * (the hypervisor's name=, e.g. org.banger.agent). Existing right links are
 * kept, wrong ones replaced. Returns the number of named ports, or -1. */
int sysinit_virtio_port_links(struct err *e);

/* Brings the loopback interface up (127.0.0.1 is configured by the kernel). */
int sysinit_loopback_up(struct err *e);

/* Configures dev with addr/prefix, brings it up and, with gw, adds the
 * default route (an existing one is fine). IPv4, through ioctls. */
int sysinit_net_static(const char *dev, const char *addr, int prefix, const char *gw,
		       struct err *e);

/* Unmounts everything but / (deepest first); a busy filesystem is remounted
 * read-only instead. Then remounts / read-only. Call after sync(). */
int sysinit_unmount_all(struct err *e);

/* Waits up to timeout_s seconds for the block device at path to exist,
 * polling every 10 ms (devtmpfs creates nodes as drivers probe). Blocks. */
int sysinit_wait_block(const char *path, int timeout_s, struct err *e);

/* The initramfs side of a switch to the root mounted at newroot: moves
 * /dev, /proc, /sys and /run under it, deletes the initramfs contents (they
 * hold RAM; never crossing into other filesystems), moves newroot onto /,
 * chroots and chdirs there. The caller then execs init. Fails with e set
 * when called outside an initramfs (/ is not rootfs/ramfs/tmpfs). */
int sysinit_switch_root(const char *newroot, struct err *e);

#endif
