/* sysinit.c — see sysinit.h. */
#include "guest/sysinit.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"
#include "path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#ifndef EXT4_IOC_RESIZE_FS
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
#endif
#define EXT4_MAGIC 0xEF53
#define RAMFS_MAGIC_ 0x858458f6
#define TMPFS_MAGIC_ 0x01021994

bool sysinit_is_mountpoint(const char *path)
{
	char parent[LIMIT_PATH];
	struct stat a, b;
	struct err e;

	err_init(&e);
	if (!strcmp(path, "/"))
		return true;
	if (path_join(parent, sizeof(parent), path, "..", &e) < 0)
		return false;
	if (stat(path, &a) < 0 || stat(parent, &b) < 0)
		return false;
	return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

struct api_fs {
	const char *dir, *type, *src, *opts;
	unsigned long flags;
	unsigned mode;
};

static const struct api_fs api_fs[] = {
	{ "/proc", "proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0555 },
	{ "/sys", "sysfs", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0555 },
	{ "/dev", "devtmpfs", "devtmpfs", "mode=0755", MS_NOSUID, 0755 },
	{ "/dev/pts", "devpts", "devpts", "mode=0620,ptmxmode=0666,gid=5", MS_NOSUID | MS_NOEXEC,
	  0755 },
	{ "/dev/shm", "tmpfs", "shm", "mode=1777", MS_NOSUID | MS_NODEV, 01777 },
	{ "/run", "tmpfs", "run", "mode=0755,size=20%", MS_NOSUID | MS_NODEV, 0755 },
};

int sysinit_mount_api(struct err *e)
{
	int rc = 0;

	for (size_t i = 0; i < sizeof(api_fs) / sizeof(api_fs[0]); i++) {
		const struct api_fs *f = &api_fs[i];

		if (mkdir(f->dir, f->mode) < 0 && errno != EEXIST) {
			if (!rc)
				err_errno(e, 0, "%s: cannot create mount point", f->dir);
			rc = -1;
			continue;
		}
		if (sysinit_is_mountpoint(f->dir))
			continue;
		if (mount(f->src, f->dir, f->type, f->flags, f->opts) < 0) {
			if (!rc)
				err_errno(e, 0, "%s: cannot mount %s", f->dir, f->type);
			rc = -1;
		}
	}
	/* /dev/ptmx in devtmpfs is the legacy one; point it at this devpts. */
	struct stat st;
	if (lstat("/dev/ptmx", &st) < 0 || !S_ISLNK(st.st_mode)) {
		unlink("/dev/ptmx");
		if (symlink("pts/ptmx", "/dev/ptmx") < 0 && errno != EEXIST && !rc)
			rc = err_errno(e, 0, "/dev/ptmx: cannot link to pts/ptmx");
	}
	if (symlink("/proc/self/fd", "/dev/fd") < 0 && errno != EEXIST && !rc)
		rc = err_errno(e, 0, "/dev/fd: cannot link to /proc/self/fd");
	return rc;
}

void sysinit_console(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int c = open("/dev/console", O_RDWR | O_NOCTTY);
		if (c < 0)
			c = open("/dev/null", O_RDWR);
		if (c >= 0 && c != fd) {
			dup2(c, fd);
			close(c);
		}
	}
}

int sysinit_remount_root_rw(struct err *e)
{
	struct statvfs sv;

	if (statvfs("/", &sv) < 0)
		return err_errno(e, 0, "/: statvfs");
	if (!(sv.f_flag & ST_RDONLY))
		return 0;
	if (mount(NULL, "/", NULL, MS_REMOUNT, NULL) < 0)
		return err_errno(e, 0, "/: cannot remount read-write");
	return 0;
}

/* Reads one unsigned decimal from a sysfs file. */
static int read_u64(const char *path, uint64_t *v, struct err *e)
{
	char buf[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return err_errno(e, 0, "%s: cannot open", path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return err_set(e, EXIT_SYSTEM, "%s: cannot read", path);
	buf[n] = '\0';
	if (sscanf(buf, "%" SCNu64, v) != 1)
		return err_set(e, EXIT_VERIFY, "%s: not a number", path);
	return 0;
}

int sysinit_grow_root(const char *mnt, uint64_t *old_bytes, uint64_t *new_bytes, struct err *e)
{
	char sys[128];
	struct statfs before, after;
	struct stat st;
	uint64_t sectors, blocks;
	int fd, rc = 0;

	if (statfs(mnt, &before) < 0)
		return err_errno(e, 0, "%s: statfs", mnt);
	if (before.f_type != EXT4_MAGIC)
		return 0;
	if (stat(mnt, &st) < 0)
		return err_errno(e, 0, "%s: stat", mnt);
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/size", major(st.st_dev), minor(st.st_dev));
	if (access(sys, F_OK) < 0)
		return 0; /* not on a block device we can see */
	if (read_u64(sys, &sectors, e) < 0)
		return -1;
	blocks = sectors * 512 / (uint64_t)before.f_bsize;
	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, 0, "%s: cannot open", mnt);
	if (ioctl(fd, EXT4_IOC_RESIZE_FS, &blocks) < 0) {
		/* EINVAL: the filesystem is already at least this large. */
		rc = errno == EINVAL ? 0
				     : err_errno(e, 0, "%s: cannot grow to %" PRIu64 " blocks", mnt,
						 blocks);
		close(fd);
		return rc;
	}
	close(fd);
	if (statfs(mnt, &after) < 0)
		return err_errno(e, 0, "%s: statfs", mnt);
	*old_bytes = (uint64_t)before.f_blocks * (uint64_t)before.f_bsize;
	*new_bytes = (uint64_t)after.f_blocks * (uint64_t)after.f_bsize;
	return after.f_blocks > before.f_blocks ? 1 : 0;
}

int sysinit_virtio_port_links(struct err *e)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *de;
	int n = 0, rc = 0;

	if (!d)
		return 0; /* no virtio console driver, no ports */
	while ((de = readdir(d))) {
		char path[LIMIT_PATH], name[LIMIT_NAME + 1], link[LIMIT_PATH],
			target[LIMIT_NAME + 8], cur[LIMIT_NAME + 8];
		ssize_t l;
		int fd;

		if (de->d_name[0] == '.' || strlen(de->d_name) > LIMIT_NAME)
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		l = read(fd, name, sizeof(name) - 1);
		close(fd);
		while (l > 0 && (name[l - 1] == '\n' || name[l - 1] == '\0'))
			l--;
		if (l <= 0)
			continue;
		name[l] = '\0';
		if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		n++;
		snprintf(target, sizeof(target), "../%s", de->d_name);
		snprintf(link, sizeof(link), "/dev/virtio-ports/%s", name);
		mkdir("/dev/virtio-ports", 0755);
		l = readlink(link, cur, sizeof(cur) - 1);
		if (l >= 0) {
			cur[l] = '\0';
			if (!strcmp(cur, target))
				continue;
			unlink(link);
		}
		if (symlink(target, link) < 0 && !rc)
			rc = err_errno(e, 0, "%s: cannot link to %s", link, target);
	}
	closedir(d);
	return rc < 0 ? rc : n;
}

int sysinit_loopback_up(struct err *e)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return err_errno(e, 0, "lo: socket");
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		err_errno(e, 0, "lo: cannot read flags");
		close(s);
		return -1;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		err_errno(e, 0, "lo: cannot bring up");
		close(s);
		return -1;
	}
	close(s);
	return 0;
}

static void set_sin(struct sockaddr *sa, uint32_t net_order)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = net_order;
	memcpy(sa, &sin, sizeof(sin));
}

int sysinit_net_static(const char *dev, const char *addr, int prefix, const char *gw, struct err *e)
{
	struct in_addr a, g;
	struct ifreq ifr;
	struct rtentry rt;
	uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
	int s, rc = -1;

	if (strlen(dev) >= IFNAMSIZ || inet_pton(AF_INET, addr, &a) != 1 ||
	    (gw && inet_pton(AF_INET, gw, &g) != 1))
		return err_set(e, EXIT_USAGE, "%s: bad interface or address", dev);
	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return err_errno(e, 0, "%s: socket", dev);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, dev, strlen(dev) + 1);
	set_sin(&ifr.ifr_addr, a.s_addr);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0) {
		err_errno(e, 0, "%s: cannot set address %s — is the interface there?", dev, addr);
		goto out;
	}
	set_sin(&ifr.ifr_netmask, mask);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) {
		err_errno(e, 0, "%s: cannot set netmask /%d", dev, prefix);
		goto out;
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		err_errno(e, 0, "%s: cannot read flags", dev);
		goto out;
	}
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		err_errno(e, 0, "%s: cannot bring up", dev);
		goto out;
	}
	if (gw) {
		memset(&rt, 0, sizeof(rt));
		set_sin(&rt.rt_dst, 0);
		set_sin(&rt.rt_genmask, 0);
		set_sin(&rt.rt_gateway, g.s_addr);
		rt.rt_flags = RTF_UP | RTF_GATEWAY;
		rt.rt_dev = (char *)dev;
		if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST) {
			err_errno(e, 0, "%s: cannot add the default route via %s", dev, gw);
			goto out;
		}
	}
	rc = 0;
out:
	close(s);
	return rc;
}

/* Undoes the octal escapes (\040 for space) of /proc/self/mountinfo. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

#define MAX_MOUNTS 256

int sysinit_unmount_all(struct err *e)
{
	static char points[MAX_MOUNTS][256];
	char line[1024];
	int n = 0, rc = 0, held[8], nheld = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (f) {
		while (n < MAX_MOUNTS && fgets(line, sizeof(line), f)) {
			char mp[256];
			struct statfs sf;

			/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
			if (sscanf(line, "%*s %*s %*s %*s %255s", mp) != 1)
				continue;
			unescape(mp);
			if (!strcmp(mp, "/"))
				continue;
			memcpy(points[n++], mp, sizeof(mp));
			/* An overlay's upper layer stays in use to the end (the
			 * overlay holds a private clone of its mount, so unmounting
			 * the visible one writes nothing back). Held open here and
			 * frozen last: freezing writes its journal back and marks it
			 * clean, so the disk is whole once the VM is off. */
			if (nheld < 8 && statfs(mp, &sf) == 0 && sf.f_type == EXT4_MAGIC &&
			    (held[nheld] = open(mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
				nheld++;
		}
		fclose(f);
	}
	/* mountinfo lists parents before children: undo in reverse. */
	while (n-- > 0) {
		if (umount2(points[n], 0) == 0 || errno == EINVAL || errno == ENOENT)
			continue;
		if (mount(NULL, points[n], NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0 &&
		    errno != EINVAL && errno != EBUSY && !rc)
			rc = err_errno(e, 0, "%s: cannot unmount or remount read-only", points[n]);
	}
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0 && !rc)
		rc = err_errno(e, 0, "/: cannot remount read-only");
	/* Never thawed: nothing writes after this. One already read-only
	 * refuses (EROFS) and needs nothing. */
	while (nheld-- > 0) {
		if (ioctl(held[nheld], FIFREEZE, 0) < 0 && errno != EROFS && errno != EBUSY && !rc)
			rc = err_errno(e, 0, "cannot freeze a filesystem to write it back");
		close(held[nheld]);
	}
	return rc;
}

int sysinit_wait_block(const char *path, int timeout_s, struct err *e)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	long rounds = (long)timeout_s * 100;
	struct stat st;

	for (long i = 0;; i++) {
		if (stat(path, &st) == 0) {
			if (S_ISBLK(st.st_mode))
				return 0;
			return err_set(e, EXIT_VERIFY,
				       "%s: not a block device — check root=", path);
		}
		if (i >= rounds)
			break;
		nanosleep(&tick, NULL);
	}
	return err_set(e, EXIT_NOTFOUND,
		       "root device %s did not appear within %d s — check root= and that the "
		       "disk is attached (virtio-blk)",
		       path, timeout_s);
}

/* Deletes the contents of the directory open at fd, staying on device dev. */
static void delete_tree(int fd, dev_t dev)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;

	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(fd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				delete_tree(sub, dev);
			unlinkat(fd, de->d_name, AT_REMOVEDIR);
		} else {
			unlinkat(fd, de->d_name, 0);
		}
	}
	closedir(d);
}

int sysinit_switch_root(const char *newroot, struct err *e)
{
	static const char *const moves[] = { "/dev", "/proc", "/sys", "/run" };
	char target[LIMIT_PATH];
	struct statfs sf;
	struct stat root;

	if (statfs("/", &sf) < 0)
		return err_errno(e, 0, "/: statfs");
	if (sf.f_type != RAMFS_MAGIC_ && sf.f_type != TMPFS_MAGIC_)
		return err_set(e, EXIT_USAGE, "/ is not an initramfs — switch_root refused");
	if (stat("/", &root) < 0)
		return err_errno(e, 0, "/: stat");
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
		if (!sysinit_is_mountpoint(moves[i]))
			continue;
		if (path_join(target, sizeof(target), newroot, moves[i], e) < 0)
			return -1;
		mkdir(target, 0755);
		if (mount(moves[i], target, NULL, MS_MOVE, NULL) < 0) {
			/* No place for it in the new root: let it go. */
			umount2(moves[i], MNT_DETACH);
		}
	}
	if (chdir(newroot) < 0)
		return err_errno(e, 0, "%s: chdir", newroot);
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		delete_tree(fd, root.st_dev);
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return err_errno(e, 0, "%s: cannot move onto /", newroot);
	if (chroot(".") < 0)
		return err_errno(e, 0, "%s: chroot", newroot);
	if (chdir("/") < 0)
		return err_errno(e, 0, "/: chdir");
	return 0;
}
