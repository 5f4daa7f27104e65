/* snapshot.c — see snapshot.h. */
#include "vm/snapshot.h"
#include "agent/agent.h"
#include "agent/identity.h"
#include "clock.h"
#include "digest.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "guest/cmdline.h"
#include "kernel/initramfs.h"
#include "lock.h"
#include "oci/image.h"
#include "path.h"
#include "store.h"
#include "version.h"
#include "vm/firecracker.h"
#include "vm/pause.h"
#include "vm/qemu.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QMP_FDNAME "banger-snapshot"
#define MIGRATE_POLL_MS 20

/* ---- manifest.json ------------------------------------------------------ */

#define STR(key, field)                                                                            \
	{                                                                                          \
		key, offsetof(struct snap_manifest, field),                                        \
			sizeof(((struct snap_manifest *)0)->field)                                 \
	}
static const struct {
	const char *key;
	size_t off, size;
} str_fields[] = {
	STR("name", name),
	STR("vm", vm),
	STR("banger_version", banger_version),
	STR("vmm", vmm),
	STR("vmm_version", vmm_version),
	STR("accel", accel),
	STR("kernel", kernel),
	STR("kernel_digest", kernel_digest),
	STR("initrd_digest", initrd_digest),
	STR("image", image),
	STR("image_digest", image_digest),
	STR("base_id", base_id),
	STR("disk", disk),
	STR("net", net),
	STR("vm_dir", vm_dir),
};
#undef STR

static const struct {
	const char *key;
	size_t off;
	bool is_int; /* int, else long long */
	double lo, hi;
} num_fields[] = {
	{ "created", offsetof(struct snap_manifest, created), false, 0, 9.0e15 },
	{ "cpus", offsetof(struct snap_manifest, cpus), true, 1, VM_MAX_CPUS },
	{ "memory_mib", offsetof(struct snap_manifest, mem_mib), true, 16, VM_MAX_MEM_MIB },
	{ "save_ms", offsetof(struct snap_manifest, save_ms), false, 0, 9.0e15 },
	{ "downtime_ms", offsetof(struct snap_manifest, downtime_ms), false, 0, 9.0e15 },
};

char *snap_manifest_to_json(const struct snap_manifest *m, struct err *e)
{
	cJSON *o = cJSON_CreateObject(), *files;
	char *s = NULL;
	bool ok = o != NULL;

	for (size_t i = 0; ok && i < sizeof(str_fields) / sizeof(str_fields[0]); i++)
		ok = cJSON_AddStringToObject(o, str_fields[i].key,
					     (const char *)m + str_fields[i].off) != NULL;
	for (size_t i = 0; ok && i < sizeof(num_fields) / sizeof(num_fields[0]); i++) {
		const char *p = (const char *)m + num_fields[i].off;
		double v = num_fields[i].is_int ? *(const int *)p : (double)*(const long long *)p;

		ok = cJSON_AddNumberToObject(o, num_fields[i].key, v) != NULL;
	}
	ok = ok && (files = cJSON_AddArrayToObject(o, "files"));
	for (int i = 0; ok && i < m->nfiles; i++) {
		const struct snap_file *f = &m->files[i];
		cJSON *j = cJSON_CreateObject();

		ok = j && cJSON_AddItemToArray(files, j) &&
		     cJSON_AddStringToObject(j, "name", f->name) &&
		     cJSON_AddStringToObject(j, "role", f->role) &&
		     cJSON_AddNumberToObject(j, "size", (double)f->size) &&
		     cJSON_AddStringToObject(j, "sha256", f->sha256);
	}
	if (ok)
		s = cJSON_Print(o);
	cJSON_Delete(o);
	if (!s)
		err_set(e, EXIT_SYSTEM, "snapshot %s: manifest: out of memory", m->name);
	return s;
}

/* A string of at most size-1 bytes at key into out (absent: left as is). */
static int take_str(const cJSON *o, const char *key, char *out, size_t size, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
		return err_set(e, EXIT_VERIFY,
			       "snapshot manifest: \"%s\" must be a string under %zu bytes", key,
			       size);
	memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

static int take_files(const cJSON *o, struct snap_manifest *m, struct err *e)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "files"), *f;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > SNAP_FILES_MAX)
		return err_set(e, EXIT_VERIFY,
			       "snapshot manifest: \"files\" must be a list of at most %d",
			       SNAP_FILES_MAX);
	cJSON_ArrayForEach(f, a)
	{
		struct snap_file *sf = &m->files[m->nfiles];
		const cJSON *size = cJSON_GetObjectItemCaseSensitive(f, "size");
		bool base;

		if (take_str(f, "name", sf->name, sizeof(sf->name), e) < 0 ||
		    take_str(f, "role", sf->role, sizeof(sf->role), e) < 0 ||
		    take_str(f, "sha256", sf->sha256, sizeof(sf->sha256), e) < 0)
			return -1;
		base = !strcmp(sf->role, "base");
		if (!cJSON_IsNumber(size) || size->valuedouble < 0 || size->valuedouble > 9.0e15 ||
		    !path_is_simple_name(sf->name) ||
		    (strcmp(sf->role, "memory") && strcmp(sf->role, "state") &&
		     strcmp(sf->role, "disk") && !base) ||
		    (base ? sf->sha256[0] != '\0' : !digest_is_hex(sf->sha256)))
			return err_set(e, EXIT_VERIFY,
				       "snapshot manifest: a file needs a plain name, a role "
				       "(memory, state, disk, base), a size and a sha256 (none "
				       "for the base)");
		sf->size = (uint64_t)size->valuedouble;
		m->nfiles++;
	}
	return 0;
}

int snap_manifest_from_json(const char *text, size_t len, struct snap_manifest *m, struct err *e)
{
	cJSON *o = cJSON_ParseWithLength(text, len);
	int r = -1;

	memset(m, 0, sizeof(*m));
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return err_set(e, EXIT_VERIFY, "snapshot manifest: not a JSON object");
	}
	for (size_t i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++)
		if (take_str(o, str_fields[i].key, (char *)m + str_fields[i].off,
			     str_fields[i].size, e) < 0)
			goto out;
	for (size_t i = 0; i < sizeof(num_fields) / sizeof(num_fields[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, num_fields[i].key);
		char *p = (char *)m + num_fields[i].off;

		if (!v)
			continue;
		if (!cJSON_IsNumber(v) || v->valuedouble < num_fields[i].lo ||
		    v->valuedouble > num_fields[i].hi) {
			err_set(e, EXIT_VERIFY,
				"snapshot manifest: \"%s\" must be a number in %.0f..%.0f",
				num_fields[i].key, num_fields[i].lo, num_fields[i].hi);
			goto out;
		}
		if (num_fields[i].is_int)
			*(int *)p = (int)v->valuedouble;
		else
			*(long long *)p = (long long)v->valuedouble;
	}
	r = take_files(o, m, e);
out:
	cJSON_Delete(o);
	return r;
}

int snap_manifest_load(const struct store *s, const char *name, char *dir, size_t size,
		       struct snap_manifest *m, struct err *e)
{
	char path[LIMIT_PATH], *text;
	size_t len;
	int r;

	if (store_object_dir(s, "snapshots", name, dir, size, e) < 0 ||
	    path_join(path, sizeof(path), dir, "manifest.json", e) < 0)
		return -1;
	if (file_read_all(path, LIMIT_JSON_DOC, &text, &len, e) < 0) {
		if (e->code == EXIT_NOTFOUND)
			return err_set(e, EXIT_NOTFOUND,
				       "no snapshot named '%s' — see 'banger snapshot list'", name);
		return -1;
	}
	r = snap_manifest_from_json(text, len, m, e);
	free(text);
	if (r < 0)
		return err_prefix(e, "snapshot '%s'", name);
	snprintf(m->name, sizeof(m->name), "%s", name); /* its directory names it */
	return 0;
}

/* ---- what a VM is ------------------------------------------------------- */

/* A string field of KIND/NAME/manifest.json into out ("" when absent). */
static int manifest_str(const struct store *s, const char *kind, const char *name, const char *key,
			char *out, size_t size, struct err *e)
{
	char dir[LIMIT_PATH], path[LIMIT_PATH], *text;
	const cJSON *v;
	cJSON *j;
	size_t len;

	out[0] = '\0';
	if (store_object_dir(s, kind, name, dir, sizeof(dir), e) < 0 ||
	    path_join(path, sizeof(path), dir, "manifest.json", e) < 0)
		return -1;
	if (file_read_all(path, LIMIT_JSON_DOC, &text, &len, e) < 0) {
		if (e->code != EXIT_NOTFOUND)
			return -1;
		err_init(e); /* no manifest, no digest: compared as "" */
		return 0;
	}
	j = cJSON_ParseWithLength(text, len);
	free(text);
	v = cJSON_GetObjectItemCaseSensitive(j, key);
	if (cJSON_IsString(v))
		snprintf(out, size, "%s", v->valuestring);
	cJSON_Delete(j);
	return 0;
}

static void file_id(const char *path, char *out, size_t size)
{
	struct stat st;

	out[0] = '\0';
	if (stat(path, &st) == 0)
		snprintf(out, size, "%llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
}

int snap_expect(const struct store *s, const struct vm_paths *p, const struct vm_config *c,
		struct snap_manifest *want, struct err *e)
{
	char initrd[LIMIT_PATH], dir[LIMIT_PATH], image[LIMIT_PATH], hex[DIGEST_HEX_LEN + 1];
	char image_id[64];
	const char *base = vm_base_disk(p, c);
	struct initramfs_built b;
	struct image_meta *meta;
	bool built;

	memset(want, 0, sizeof(*want));
	snprintf(want->vm, sizeof(want->vm), "%s", c->name);
	snprintf(want->banger_version, sizeof(want->banger_version), "%s", banger_version());
	snprintf(want->vmm, sizeof(want->vmm), "%s", c->vmm);
	snprintf(want->kernel, sizeof(want->kernel), "%s", c->kernel);
	snprintf(want->image, sizeof(want->image), "%s", c->image);
	snprintf(want->disk, sizeof(want->disk), "%s", c->disk);
	snprintf(want->net, sizeof(want->net), "%s", c->net);
	snprintf(want->vm_dir, sizeof(want->vm_dir), "%s", p->dir);
	want->cpus = c->cpus;
	want->mem_mib = c->mem_mib;
	if (manifest_str(s, "kernels", c->kernel, "sha256", hex, sizeof(hex), e) < 0 ||
	    initramfs_ensure(s, c->kernel, initrd, &built, &b, e) < 0)
		return -1;
	if (hex[0])
		snprintf(want->kernel_digest, sizeof(want->kernel_digest), "sha256:%s", hex);
	if (sha256_file(initrd, hex, e) < 0)
		return -1;
	snprintf(want->initrd_digest, sizeof(want->initrd_digest), "sha256:%s", hex);
	if (!base)
		return 0;
	file_id(base, want->base_id, sizeof(want->base_id));
	/* The image's digest says what the base holds only while the base is
	 * that image's file (a later pull replaces the image, not the VM's). */
	if (store_object_dir(s, "images", c->image, dir, sizeof(dir), e) < 0 ||
	    path_join(image, sizeof(image), dir, "rootfs.ext4", e) < 0)
		return -1;
	file_id(image, image_id, sizeof(image_id));
	if (!want->base_id[0] || strcmp(image_id, want->base_id))
		return 0;
	if (!(meta = calloc(1, sizeof(*meta))))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	if (image_meta_read(dir, meta, e) == 0)
		snprintf(want->image_digest, sizeof(want->image_digest), "%s", meta->digest);
	err_init(e); /* an image without a manifest has no digest to compare */
	free(meta);
	return 0;
}

/* ---- checks ------------------------------------------------------------- */

#define DIFFER(what, have, need, fix)                                                              \
	err_set(e, EXIT_VERIFY, "snapshot '%s' is of %s %s, not %s — %s", m->name, what, have,     \
		need, fix)

int snap_check_identity(const struct snap_manifest *m, const struct snap_manifest *want,
			struct err *e)
{
	if (strcmp(m->banger_version, want->banger_version))
		return err_set(e, EXIT_VERIFY,
			       "snapshot '%s' was taken by banger %s; this is banger %s — take it "
			       "again with this banger",
			       m->name, m->banger_version, want->banger_version);
	if (strcmp(m->vmm, want->vmm))
		return DIFFER("a", m->vmm, want->vmm, "start it in a VM of that VMM");
	if (strcmp(m->kernel, want->kernel) || strcmp(m->kernel_digest, want->kernel_digest))
		return err_set(e, EXIT_VERIFY,
			       "snapshot '%s' is of kernel %s (%.19s), not %s (%.19s) — take it "
			       "again, or start it in a VM of that kernel",
			       m->name, m->kernel, m->kernel_digest, want->kernel,
			       want->kernel_digest);
	if (strcmp(m->initrd_digest, want->initrd_digest))
		return err_set(
			e, EXIT_VERIFY,
			"snapshot '%s' was booted with another initramfs of kernel %s (%.19s, "
			"now %.19s) — take it again",
			m->name, m->kernel, m->initrd_digest, want->initrd_digest);
	if (strcmp(m->image, want->image))
		return DIFFER("image", m->image, want->image, "start it in a VM of that image");
	if (strcmp(m->disk, want->disk))
		return DIFFER("a --disk", m->disk, want->disk, "start it in a VM of that layout");
	/* The same base file, or one whose image digest says the same bytes. */
	if (!strcmp(m->disk, "overlay") && strcmp(m->base_id, want->base_id) &&
	    (!m->image_digest[0] || strcmp(m->image_digest, want->image_digest)))
		return err_set(e, EXIT_VERIFY,
			       "snapshot '%s' is of image %s %s; VM '%s' runs another copy of it "
			       "(%s) — start it in the VM it was taken of, or take it again",
			       m->name, m->image,
			       m->image_digest[0] ? m->image_digest : "(unknown)", want->vm,
			       want->image_digest[0] ? want->image_digest : "unknown");
	if (m->cpus != want->cpus || m->mem_mib != want->mem_mib)
		return err_set(e, EXIT_VERIFY,
			       "snapshot '%s' is of %d vCPUs and %d MiB, VM '%s' has %d and %d — "
			       "start it in a VM of that size",
			       m->name, m->cpus, m->mem_mib, want->vm, want->cpus, want->mem_mib);
	if (strcmp(m->net, want->net))
		return DIFFER("--net", m->net, want->net, "start it in a VM of that network");
	if (!strcmp(m->vmm, "firecracker") && strcmp(m->vm_dir, want->vm_dir))
		return err_set(e, EXIT_VERIFY,
			       "snapshot '%s' is Firecracker's, whose state names VM '%s''s disks "
			       "— start it in that VM",
			       m->name, m->vm);
	return 0;
}

int snap_disk_digest(const char *path, char hex[DIGEST_HEX_LEN + 1], struct err *e)
{
	static const unsigned char zero[SNAP_DISK_BLOCK];
	unsigned char block[SNAP_DISK_BLOCK], le[8];
	struct sha256 h;
	struct stat st;
	off_t data = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		err_errno(e, 0, "%s", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	sha256_init(&h);
	while (data < st.st_size && (data = lseek(fd, data, SEEK_DATA)) >= 0) {
		off_t hole = lseek(fd, data, SEEK_HOLE);

		if (hole < 0)
			hole = st.st_size;
		data -= data % SNAP_DISK_BLOCK;
		for (; data < hole; data += SNAP_DISK_BLOCK) {
			ssize_t n = pread(fd, block, sizeof(block), data);

			if (n < 0) {
				err_errno(e, 0, "%s: read", path);
				close(fd);
				return -1;
			}
			if (n == 0)
				break;
			memset(block + n, 0, sizeof(block) - (size_t)n);
			if (!memcmp(block, zero, sizeof(block)))
				continue;
			for (int i = 0; i < 8; i++)
				le[i] = (unsigned char)((uint64_t)data >> (8 * i));
			sha256_update(&h, le, sizeof(le));
			sha256_update(&h, block, sizeof(block));
		}
	}
	close(fd);
	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)((uint64_t)st.st_size >> (8 * i));
	sha256_update(&h, le, sizeof(le));
	sha256_hex(&h, hex);
	return 0;
}

static int file_digest(const char *path, const char *role, char hex[DIGEST_HEX_LEN + 1],
		       struct err *e)
{
	if (!strcmp(role, "base")) {
		hex[0] = '\0';
		return 0;
	}
	return !strcmp(role, "disk") ? snap_disk_digest(path, hex, e) : sha256_file(path, hex, e);
}

/* ---- the verified stamp --------------------------------------------------
 *
 * dir/verified: one line a file hashed and found right, "NAME DEV INO SIZE
 * MTIME_NS CTIME_NS AT_NS SHA256", AT_NS when its reading began (realtime).
 * A file that still has that inode, size, mtime and ctime has not been
 * written through the filesystem since (ctime is the kernel's: no one sets
 * it), so its digest is not taken again. The kernel stamps files from a
 * coarse clock (a tick, a few ms): a write just after the reading began
 * could carry the ctime of the write before it, so an entry whose reading
 * began less than SNAP_STAMP_SETTLE_NS after the file's ctime proves
 * nothing and is not trusted (git's "racily clean" entries, the same way). */
#define SNAP_STAMP_SETTLE_MS 50 /* a tick is 10 ms at most (HZ >= 100) */
#define SNAP_STAMP_SETTLE_NS (SNAP_STAMP_SETTLE_MS * 1000000LL)
#define STAMP_LINE_MAX 256

static long long ns(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* True when dir/verified vouches for f as it is now (st). */
static bool stamp_vouches(const char *stamp, const struct snap_file *f, const struct stat *st)
{
	for (const char *line = stamp; line && *line;) {
		char name[32], sha[DIGEST_HEX_LEN + 1];
		unsigned long long dev, ino, size;
		long long mt, ct, at;

		if (sscanf(line, "%31s %llu %llu %llu %lld %lld %lld %64s", name, &dev, &ino, &size,
			   &mt, &ct, &at, sha) == 8 &&
		    !strcmp(name, f->name) && !strcmp(sha, f->sha256) && dev == st->st_dev &&
		    ino == st->st_ino && size == (unsigned long long)st->st_size &&
		    mt == ns(&st->st_mtim) && ct == ns(&st->st_ctim) &&
		    at >= ns(&st->st_ctim) + SNAP_STAMP_SETTLE_NS)
			return true;
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	return false;
}

static long long realtime_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return ns(&t);
}

/* Writes dir/verified for m's hashed files as they are now, read from
 * since (realtime_ns) on. Best effort: without it the next check hashes. */
static void stamp_write(const char *dir, const struct snap_manifest *m, long long since)
{
	char path[LIMIT_PATH], text[SNAP_FILES_MAX * STAMP_LINE_MAX];
	size_t n = 0;
	struct err e;

	err_init(&e);
	for (int i = 0; i < m->nfiles; i++) {
		const struct snap_file *f = &m->files[i];
		struct stat st;

		if (!f->sha256[0] || path_join(path, sizeof(path), dir, f->name, &e) < 0 ||
		    stat(path, &st) < 0)
			continue;
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "%s %llu %llu %llu %lld %lld %lld %s\n", f->name,
				      (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
				      (unsigned long long)st.st_size, ns(&st.st_mtim),
				      ns(&st.st_ctim), since, f->sha256);
		if (n >= sizeof(text))
			return;
	}
	if (path_join(path, sizeof(path), dir, "verified", &e) == 0)
		file_write_atomic(path, text, n, 0644, &e);
}

int snap_check_files(const char *dir, const struct snap_manifest *m, struct err *e)
{
	char path[LIMIT_PATH], *stamp = NULL;
	long long since = realtime_ns();
	bool hashed = false;
	size_t len;
	int r = -1;

	if (!m->nfiles)
		return err_set(e, EXIT_VERIFY, "snapshot '%s' lists no files — take it again",
			       m->name);
	if (path_join(path, sizeof(path), dir, "verified", e) < 0)
		return -1;
	if (file_read_all(path, SNAP_FILES_MAX * STAMP_LINE_MAX, &stamp, &len, e) < 0)
		err_init(e); /* none, or not ours to trust: hash everything */
	for (int i = 0; i < m->nfiles; i++) {
		const struct snap_file *f = &m->files[i];
		char hex[DIGEST_HEX_LEN + 1];
		struct stat st;

		if (path_join(path, sizeof(path), dir, f->name, e) < 0)
			goto out;
		if (stat(path, &st) < 0) {
			err_errno(e, EXIT_VERIFY, "snapshot '%s': its %s file %s is missing",
				  m->name, f->role, f->name);
			goto out;
		}
		if ((uint64_t)st.st_size != f->size) {
			err_set(e, EXIT_VERIFY,
				"snapshot '%s': %s is %llu bytes, the manifest says %llu "
				"(truncated?) "
				"— take the snapshot again",
				m->name, f->name, (unsigned long long)st.st_size,
				(unsigned long long)f->size);
			goto out;
		}
		if (!f->sha256[0] || stamp_vouches(stamp, f, &st))
			continue;
		if (file_digest(path, f->role, hex, e) < 0)
			goto out;
		if (strcmp(hex, f->sha256)) {
			err_set(e, EXIT_VERIFY,
				"snapshot '%s': %s does not match its sha256 (corrupt) — take the "
				"snapshot again",
				m->name, f->name);
			goto out;
		}
		hashed = true;
	}
	if (hashed)
		stamp_write(dir, m, since);
	r = 0;
out:
	free(stamp);
	return r;
}

/* ---- QEMU --------------------------------------------------------------- */

/* "7.2.22 (Debian …)" from query-version's answer. */
static void qemu_version(const char *answer, char *out, size_t size)
{
	cJSON *j = cJSON_Parse(answer);
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "qemu");
	const cJSON *pkg = cJSON_GetObjectItemCaseSensitive(j, "package");
	int v[3] = { 0 };
	static const char *const keys[] = { "major", "minor", "micro" };

	for (int i = 0; i < 3; i++) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(q, keys[i]);

		v[i] = cJSON_IsNumber(n) ? n->valueint : -1;
	}
	snprintf(out, size, "%d.%d.%d%s%s%s", v[0], v[1], v[2],
		 cJSON_IsString(pkg) && *pkg->valuestring ? " (" : "",
		 cJSON_IsString(pkg) ? pkg->valuestring : "",
		 cJSON_IsString(pkg) && *pkg->valuestring ? ")" : "");
	cJSON_Delete(j);
}

/* Hands fd to QEMU under QMP_FDNAME, then starts command (migrate or
 * migrate-incoming) on it, and waits for query-migrate to say completed. */
static int qemu_migrate(struct qmp *q, const char *command, int fd, int timeout_ms, struct err *e)
{
	char answer[LIMIT_QMP_ANSWER], status[32];
	int64_t deadline = now_ms() + timeout_ms;

	if (qemu_qmp_call(q, "getfd", "{\"fdname\":\"" QMP_FDNAME "\"}", fd, NULL, 0, e) < 0 ||
	    qemu_qmp_call(q, command, "{\"uri\":\"fd:" QMP_FDNAME "\"}", -1, NULL, 0, e) < 0)
		return -1;
	for (;;) {
		cJSON *j;
		const cJSON *v;

		if (qemu_qmp_call(q, "query-migrate", NULL, -1, answer, sizeof(answer), e) < 0)
			return -1;
		j = cJSON_Parse(answer);
		v = cJSON_GetObjectItemCaseSensitive(j, "status");
		snprintf(status, sizeof(status), "%s", cJSON_IsString(v) ? v->valuestring : "");
		v = cJSON_GetObjectItemCaseSensitive(j, "error-desc");
		if (!strcmp(status, "failed") || !strcmp(status, "cancelled")) {
			err_set(e, EXIT_GUEST, "QEMU's %s %s: %s", command, status,
				cJSON_IsString(v) ? v->valuestring : "no reason given");
			cJSON_Delete(j);
			return -1;
		}
		cJSON_Delete(j);
		if (!strcmp(status, "completed"))
			return 0;
		if (now_ms() > deadline)
			return err_set(e, EXIT_GUEST, "QEMU's %s did not complete within %d s",
				       command, timeout_ms / 1000);
		poll(NULL, 0, MIGRATE_POLL_MS);
	}
}

/* stop, then the migration stream into dir/state.mig. *stopped once the
 * vCPUs were stopped here (the caller lets them go on). */
static int qemu_save(const struct vm_paths *p, const char *dir, struct snap_manifest *m,
		     bool *stopped, struct err *e)
{
	char path[LIMIT_PATH], answer[LIMIT_QMP_ANSWER];
	struct qmp q;
	int fd, r = -1;

	if (path_join(path, sizeof(path), dir, "state.mig", e) < 0 ||
	    qemu_qmp_open(&q, p->qmp_sock, QMP_TIMEOUT_MS, e) < 0)
		return -1;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		err_errno(e, 0, "%s", path);
		goto out;
	}
	if (qemu_qmp_call(&q, "query-version", NULL, -1, answer, sizeof(answer), e) < 0)
		goto out;
	qemu_version(answer, m->vmm_version, sizeof(m->vmm_version));
	if (qemu_qmp_call(&q, "query-kvm", NULL, -1, answer, sizeof(answer), e) < 0)
		goto out;
	snprintf(m->accel, sizeof(m->accel), "%s",
		 strstr(answer, "\"enabled\":true") ? "kvm" : "tcg");
	if (qemu_qmp_call(&q, "stop", NULL, -1, NULL, 0, e) < 0)
		goto out;
	*stopped = true;
	if (qemu_migrate(&q, "migrate", fd, SNAP_SAVE_TIMEOUT_MS, e) < 0)
		goto out;
	if (fsync(fd) < 0) {
		err_errno(e, 0, "%s: sync", path);
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	qemu_qmp_close(&q);
	return r;
}

int snap_restore_qemu(const char *qmp_sock, const struct snap_restore *r, struct err *e)
{
	char path[LIMIT_PATH], answer[LIMIT_QMP_ANSWER], version[128];
	struct qmp q;
	int fd, ret = -1;

	if (strcmp(r->m.vmm, "qemu"))
		return err_set(e, EXIT_VERIFY, "snapshot '%s' is %s's, not QEMU's", r->m.name,
			       r->m.vmm);
	if (path_join(path, sizeof(path), r->dir, "state.mig", e) < 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_errno(e, EXIT_VERIFY, "snapshot '%s': %s", r->m.name, path);
	if (qemu_qmp_open(&q, qmp_sock, QMP_TIMEOUT_MS, e) < 0) {
		close(fd);
		return -1;
	}
	if (qemu_qmp_call(&q, "query-version", NULL, -1, answer, sizeof(answer), e) < 0)
		goto out;
	qemu_version(answer, version, sizeof(version));
	if (strcmp(version, r->m.vmm_version)) {
		err_set(e, EXIT_VERIFY,
			"snapshot '%s' was taken with QEMU %s; this QEMU is %s — take it again",
			r->m.name, r->m.vmm_version, version);
		goto out;
	}
	if (qemu_migrate(&q, "migrate-incoming", fd, SNAP_LOAD_TIMEOUT_MS, e) < 0 ||
	    qemu_qmp_call(&q, "cont", NULL, -1, NULL, 0, e) < 0) {
		err_prefix(e, "snapshot '%s' did not load (see the VM's console log)", r->m.name);
		goto out;
	}
	ret = 0;
out:
	close(fd);
	qemu_qmp_close(&q);
	return ret;
}

/* ---- Firecracker -------------------------------------------------------- */

static int fc_version(const char *api, char *out, size_t size, struct err *e)
{
	char answer[512];
	cJSON *j;
	const cJSON *v;

	if (fc_call(api, "GET", "/version", NULL, 0, answer, sizeof(answer), e) < 0)
		return -1;
	j = cJSON_Parse(answer);
	v = cJSON_GetObjectItemCaseSensitive(j, "firecracker_version");
	snprintf(out, size, "%s", cJSON_IsString(v) ? v->valuestring : "");
	cJSON_Delete(j);
	if (!out[0])
		return err_set(e, EXIT_GUEST, "firecracker: GET /version gave no version");
	return 0;
}

static int fc_put_body(const char *api, const char *method, const char *path, cJSON *body,
		       int timeout_ms, struct err *e)
{
	int r;

	if (!body)
		return err_set(e, EXIT_SYSTEM, "firecracker: %s: out of memory", path);
	r = fc_call(api, method, path, body, timeout_ms, NULL, 0, e);
	cJSON_Delete(body);
	return r;
}

static int fc_save(const struct vm_paths *p, const struct vm_config *c, const char *dir,
		   bool was_paused, struct snap_manifest *m, bool *stopped, struct err *e)
{
	char api[LIMIT_PATH], state[LIMIT_PATH], mem[LIMIT_PATH];

	if (vm_api_sock(p, c, api, sizeof(api), e) < 0 ||
	    path_join(state, sizeof(state), dir, "vmstate", e) < 0 ||
	    path_join(mem, sizeof(mem), dir, "memory", e) < 0 ||
	    fc_version(api, m->vmm_version, sizeof(m->vmm_version), e) < 0)
		return -1;
	snprintf(m->accel, sizeof(m->accel), "kvm");
	/* Firecracker snapshots a paused VM only. */
	if (!was_paused) {
		if (fc_put_body(api, "PATCH", "/vm", fc_body_vm_state("Paused"), 0, e) < 0)
			return -1;
		*stopped = true;
	}
	return fc_put_body(api, "PUT", "/snapshot/create", fc_body_snapshot_create(state, mem),
			   SNAP_SAVE_TIMEOUT_MS, e);
}

int snap_restore_firecracker(const char *api_sock, const struct snap_restore *r, const char *tap,
			     const char *vsock_uds, struct err *e)
{
	char state[LIMIT_PATH], mem[LIMIT_PATH], version[128];

	if (strcmp(r->m.vmm, "firecracker"))
		return err_set(e, EXIT_VERIFY, "snapshot '%s' is %s's, not Firecracker's",
			       r->m.name, r->m.vmm);
	if (path_join(state, sizeof(state), r->dir, "vmstate", e) < 0 ||
	    path_join(mem, sizeof(mem), r->dir, "memory", e) < 0 ||
	    fc_version(api_sock, version, sizeof(version), e) < 0)
		return -1;
	if (strcmp(version, r->m.vmm_version))
		return err_set(e, EXIT_VERIFY,
			       "snapshot '%s' was taken with Firecracker %s; this one is %s — take "
			       "it again",
			       r->m.name, r->m.vmm_version, version);
	return fc_put_body(api_sock, "PUT", "/snapshot/load",
			   fc_body_snapshot_load(state, mem, tap, vsock_uds, true),
			   SNAP_LOAD_TIMEOUT_MS, e);
}

/* ---- save --------------------------------------------------------------- */

static int add_file(struct snap_manifest *m, const char *dir, const char *name, const char *role,
		    struct err *e)
{
	struct snap_file *f;
	char path[LIMIT_PATH];
	struct stat st;

	if (m->nfiles >= SNAP_FILES_MAX)
		return err_set(e, EXIT_SYSTEM, "snapshot %s: more than %d files", m->name,
			       SNAP_FILES_MAX);
	f = &m->files[m->nfiles];
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->role, sizeof(f->role), "%s", role);
	if (path_join(path, sizeof(path), dir, name, e) < 0)
		return -1;
	if (stat(path, &st) < 0)
		return err_errno(e, 0, "%s", path);
	f->size = (uint64_t)st.st_size;
	if (file_digest(path, role, f->sha256, e) < 0)
		return -1;
	m->nfiles++;
	return 0;
}

/* The VM's disks into the staging directory while its vCPUs stand still:
 * the writable ones copied, the base linked (when it can be: else the
 * snapshot does not hold it, and the VM's own must do). */
static int copy_disks(const struct vm_paths *p, const struct vm_config *c, const char *dir,
		      char names[VM_DISKS_MAX + 1][32], int *n, struct err *e)
{
	const char *disks[VM_DISKS_MAX], *base = vm_base_disk(p, c);
	int count = vm_writable_disks(p, c, disks);
	char dst[LIMIT_PATH];

	*n = 0;
	for (int i = 0; i < count; i++) {
		const char *name = strrchr(disks[i], '/') + 1;

		if (path_join(dst, sizeof(dst), dir, name, e) < 0 ||
		    vm_copy_disk(disks[i], dst, 0, NULL, e) < 0)
			return -1;
		snprintf(names[(*n)++], 32, "%s", name);
	}
	if (base && path_join(dst, sizeof(dst), dir, "base.ext4", e) == 0 && link(base, dst) == 0)
		snprintf(names[(*n)++], 32, "base.ext4");
	return 0;
}

static int lets_go(const struct vm_paths *p, const struct vm_config *c, struct err *e)
{
	char api[LIMIT_PATH];

	if (!strcmp(c->vmm, "qemu"))
		return qemu_qmp(p->qmp_sock, "cont", e);
	if (vm_api_sock(p, c, api, sizeof(api), e) < 0)
		return -1;
	return fc_put_body(api, "PATCH", "/vm", fc_body_vm_state("Resumed"), 0, e);
}

int snap_create(const struct store *s, const struct vm_paths *p, const struct vm_config *c,
		const char *name, struct snap_manifest *m, struct err *e)
{
	char staging[LIMIT_PATH], dir[LIMIT_PATH], disks[VM_DISKS_MAX + 1][32];
	int lock, ndisks = 0, r = -1;
	bool was_paused, stopped = false;
	int64_t t0;
	long long since;
	enum vm_run_state rs;
	char *json = NULL;

	if (c->jail)
		return err_set(e, EXIT_NOTIMPL,
			       "VM '%s' is jailed: snapshots of jailed VMs are not built yet",
			       c->name);
	if (vm_status_get(p, NULL) != VM_RUNNING)
		return err_set(e, EXIT_NO,
			       "VM '%s' is not running — a snapshot is of a running VM ('banger vm "
			       "start %s')",
			       c->name, c->name);
	if (snap_expect(s, p, c, m, e) < 0 ||
	    store_object_dir(s, "snapshots", name, dir, sizeof(dir), e) < 0)
		return -1;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->created = (long long)time(NULL);
	if ((lock = store_lock(s, "snapshots", name, NULL, e)) < 0)
		return -1;
	if (access(dir, F_OK) == 0) {
		err_set(e, EXIT_BUSY,
			"snapshot '%s' exists — pick another name or 'banger snapshot rm %s'", name,
			name);
		goto out;
	}
	store_sweep_staging(s, "snapshots", name);
	if (store_staging(s, "snapshots", name, staging, sizeof(staging), e) < 0)
		goto out;
	rs = vm_run_state_get(p, c, QMP_TIMEOUT_MS, e);
	if (rs == VM_RUN_UNKNOWN)
		goto fail;
	was_paused = rs == VM_RUN_PAUSED;
	t0 = now_ms();
	if (!strcmp(c->vmm, "qemu")) {
		if (qemu_save(p, staging, m, &stopped, e) == 0)
			r = 0;
	} else if (fc_save(p, c, staging, was_paused, m, &stopped, e) == 0) {
		r = 0;
	}
	if (r == 0)
		r = copy_disks(p, c, staging, disks, &ndisks, e);
	/* The VM runs on; one that was paused stays so. */
	if (stopped && !was_paused) {
		struct err go;

		err_init(&go);
		if (lets_go(p, c, &go) < 0 && r == 0) {
			*e = go;
			r = -1;
		}
	}
	m->downtime_ms = now_ms() - t0;
	if (r < 0)
		goto fail;
	r = -1;
	/* Every file is written: once the settling time has passed, the
	 * stamp taken from here on vouches for them at the first start. */
	poll(NULL, 0, SNAP_STAMP_SETTLE_MS + 10);
	since = realtime_ns();
	if (!strcmp(c->vmm, "qemu") ? add_file(m, staging, "state.mig", "memory", e) < 0
				    : add_file(m, staging, "vmstate", "state", e) < 0 ||
					      add_file(m, staging, "memory", "memory", e) < 0)
		goto fail;
	for (int i = 0; i < ndisks; i++)
		if (add_file(m, staging, disks[i], strcmp(disks[i], "base.ext4") ? "disk" : "base",
			     e) < 0)
			goto fail;
	m->save_ms = now_ms() - t0;
	stamp_write(staging, m, since);
	if (!(json = snap_manifest_to_json(m, e)) ||
	    path_join(dir, sizeof(dir), staging, "manifest.json", e) < 0 ||
	    file_write_atomic(dir, json, strlen(json), 0644, e) < 0 ||
	    store_object_dir(s, "snapshots", name, dir, sizeof(dir), e) < 0 ||
	    file_commit_dir(staging, dir, e) < 0)
		goto fail;
	r = 0;
	goto out;
fail : {
	struct err ignored;

	err_init(&ignored);
	path_remove_tree(staging, &ignored);
	r = -1;
}
out:
	free(json);
	lock_release(lock);
	return r;
}

/* ---- restore ------------------------------------------------------------ */

/* The snapshot's copies in place of the VM's writable disks: each copied
 * beside its destination, then renamed over it. */
static int put_disks(const struct vm_paths *p, const struct vm_config *c, const char *dir,
		     struct err *e)
{
	const char *disks[VM_DISKS_MAX];
	int n = vm_writable_disks(p, c, disks);

	for (int i = 0; i < n; i++) {
		char src[LIMIT_PATH], tmp[LIMIT_PATH];

		if (path_join(src, sizeof(src), dir, strrchr(disks[i], '/') + 1, e) < 0 ||
		    path_joinf(tmp, sizeof(tmp), e, p->dir, ".%s.restoring",
			       strrchr(disks[i], '/') + 1) < 0)
			return -1;
		unlink(tmp);
		if (vm_copy_disk(src, tmp, 0, NULL, e) < 0)
			return -1;
		if (rename(tmp, disks[i]) < 0) {
			err_errno(e, 0, "%s", disks[i]);
			unlink(tmp);
			return -1;
		}
	}
	return 0;
}

int snap_start(const struct store *s, const struct vm_paths *p, struct vm_config *c,
	       const char *name, char *notice, size_t notice_size, long long *check_ms,
	       struct err *e)
{
	struct snap_restore *r = calloc(1, sizeof(*r));
	struct snap_manifest *want = calloc(1, sizeof(*want));
	int lock = -1, ret = -1;
	int64_t t0 = now_ms();
	char reason[128];

	if (!r || !want) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	if (c->jail) {
		err_set(e, EXIT_NOTIMPL, "VM '%s' is jailed: restoring jailed VMs is not built yet",
			c->name);
		goto out;
	}
	if (vm_status_get(p, NULL) == VM_RUNNING) {
		err_set(e, EXIT_BUSY,
			"VM '%s' is running — stop it first (its disks become the snapshot's)",
			c->name);
		goto out;
	}
	if ((lock = store_lock_existing(s, "snapshots", name, NULL, e)) < 0) {
		if (e->code == EXIT_NOTFOUND)
			err_set(e, EXIT_NOTFOUND,
				"no snapshot named '%s' — see 'banger snapshot list'", name);
		goto out;
	}
	if (snap_manifest_load(s, name, r->dir, sizeof(r->dir), &r->m, e) < 0)
		goto out;
	/* Another banger's snapshot is refused before snap_expect builds this
	 * banger's initramfs for nothing. */
	snprintf(want->banger_version, sizeof(want->banger_version), "%s", banger_version());
	snprintf(want->name, sizeof(want->name), "%s", name);
	if (strcmp(r->m.banger_version, want->banger_version)) {
		snap_check_identity(&r->m, want, e);
		goto out;
	}
	if (snap_expect(s, p, c, want, e) < 0 || snap_check_identity(&r->m, want, e) < 0)
		goto out;
	if (!strcmp(r->m.accel, "kvm") && !vm_kvm_usable()) {
		err_set(e, EXIT_VERIFY,
			"snapshot '%s' was taken under KVM, and /dev/kvm is not usable here", name);
		goto out;
	}
	if (!strcmp(r->m.vmm, "firecracker") &&
	    strcmp(vm_pick_vmm(reason, sizeof(reason)), "firecracker")) {
		err_set(e, EXIT_NOTFOUND, "snapshot '%s' is Firecracker's: %s", name, reason);
		goto out;
	}
	if (snap_check_files(r->dir, &r->m, e) < 0)
		goto out;
	if (check_ms)
		*check_ms = now_ms() - t0;
	if (put_disks(p, c, r->dir, e) < 0)
		goto out;
	c->restore = r;
	ret = vm_start(s, p, c, notice, notice_size, e);
	c->restore = NULL;
out:
	if (lock >= 0)
		lock_release(lock);
	free(want);
	free(r);
	return ret;
}

uint64_t snap_own_bytes(const char *dir, const struct snap_manifest *m, const char *role)
{
	uint64_t sum = 0;

	for (int i = 0; i < m->nfiles; i++) {
		char path[LIMIT_PATH];
		struct stat st;
		struct err e;

		err_init(&e);
		if ((role ? !strcmp(m->files[i].role, role) : !!strcmp(m->files[i].role, "base")) &&
		    path_join(path, sizeof(path), dir, m->files[i].name, &e) == 0 &&
		    stat(path, &st) == 0)
			sum += (uint64_t)st.st_blocks * 512;
	}
	return sum;
}

int snap_remove(const struct store *s, const char *name, struct err *e)
{
	char dir[LIMIT_PATH];
	int lock, r;

	if (store_object_dir(s, "snapshots", name, dir, sizeof(dir), e) < 0)
		return -1;
	if ((lock = store_lock_existing(s, "snapshots", name, NULL, e)) < 0) {
		if (e->code == EXIT_NOTFOUND)
			err_set(e, EXIT_NOTFOUND,
				"no snapshot named '%s' — see 'banger snapshot list'", name);
		return -1;
	}
	if (access(dir, F_OK) < 0) {
		lock_release(lock);
		return err_set(e, EXIT_NOTFOUND,
			       "no snapshot named '%s' — see 'banger snapshot list'", name);
	}
	r = path_remove_tree(dir, e);
	lock_release(lock);
	return r;
}

/* Host random bytes; -1 when the kernel has none to give. */
static int host_random(void *out, size_t n)
{
	unsigned char *p = out;

	while (n) {
		ssize_t k = getrandom(p, n, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int snap_identity(const struct vm_paths *p, const struct vm_config *c, int timeout_ms,
		  struct err *e)
{
	struct ap_identity *id = calloc(1, sizeof(*id));
	struct agent_addr addr;
	unsigned char mid[16];
	int rc = -1;

	if (!id)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	if (host_random(id->entropy, IDENTITY_ENTROPY) < 0 || host_random(mid, sizeof(mid)) < 0) {
		err_errno(e, EXIT_SYSTEM, "getrandom");
		goto out;
	}
	id->nentropy = IDENTITY_ENTROPY;
	for (size_t i = 0; i < sizeof(mid); i++)
		snprintf(id->machine_id + 2 * i, 3, "%02x", mid[i]);
	if (hostname_is_valid(c->name))
		snprintf(id->hostname, sizeof(id->hostname), "%s", c->name);
	if (!strcmp(c->net, "tap") && c->ip[0]) {
		snprintf(id->ip, sizeof(id->ip), "%s", c->ip);
		snprintf(id->gateway, sizeof(id->gateway), "%s", c->gateway);
		id->prefix = c->prefix;
	}
	if (vm_agent_address(p, c, &addr, e) == 0 &&
	    agent_identity(&addr, timeout_ms, id, e) == 0) {
		rc = 0;
	} else {
		char why[ERR_MSG_MAX];

		snprintf(why, sizeof(why), "%s", e->msg);
		err_set(e, e->code ? e->code : EXIT_GUEST,
			"VM '%s': its identity was not re-applied after the restore: %s", c->name,
			why);
	}
out:
	explicit_bzero(id, sizeof(*id));
	free(id);
	return rc;
}

/* ---- vm run's boot cache ------------------------------------------------ */

/* "DEV:INODE:SIZE:MTIME" of path ("" when it cannot be read). */
static void exe_id(const char *path, char *out, size_t size)
{
	struct stat st;

	out[0] = '\0';
	if (stat(path, &st) == 0)
		snprintf(out, size, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino, (long long)st.st_size,
			 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static void key_add(struct sha256 *h, const char *k, const char *v)
{
	sha256_update(h, k, strlen(k) + 1);
	sha256_update(h, v, strlen(v) + 1);
}

int snap_cache_name(const struct store *s, const struct vm_paths *p, const struct vm_config *c,
		    char *name, size_t size, struct err *e)
{
	struct snap_manifest *want;
	char exe[LIMIT_PATH], id[128], num[64], hex[DIGEST_HEX_LEN + 1];
	struct sha256 h;

	if (strcmp(c->vmm, "qemu") || c->jail || !vm_base_disk(p, c))
		return 1;
	if (vm_find_exe("BANGER_QEMU", "qemu-system-x86_64", exe, sizeof(exe)) < 0)
		return 1; /* vm_start says what is missing */
	if (!(want = calloc(1, sizeof(*want))))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	if (snap_expect(s, p, c, want, e) < 0) {
		free(want);
		return -1;
	}
	exe_id(exe, id, sizeof(id));
	sha256_init(&h);
	key_add(&h, "cache", "1");
	key_add(&h, "banger", want->banger_version);
	key_add(&h, "vmm", want->vmm);
	key_add(&h, "vmm_exe", exe);
	key_add(&h, "vmm_id", id);
	key_add(&h, "accel", vm_qemu_wants_kvm() ? "kvm" : "tcg");
	key_add(&h, "kernel", want->kernel);
	key_add(&h, "kernel_digest", want->kernel_digest);
	key_add(&h, "initrd_digest", want->initrd_digest);
	key_add(&h, "image", want->image);
	key_add(&h, "image_digest", want->image_digest);
	key_add(&h, "base_id", want->base_id);
	snprintf(num, sizeof(num), "%d %d %llu", want->cpus, want->mem_mib,
		 (unsigned long long)c->disk_bytes);
	key_add(&h, "size", num);
	key_add(&h, "disk", want->disk);
	key_add(&h, "net", want->net);
	key_add(&h, "ssh_key", c->ssh_key);
	key_add(&h, "init", c->init);
	key_add(&h, "tmpfs", c->tmpfs);
	sha256_hex(&h, hex);
	free(want);
	if ((size_t)snprintf(name, size, "%s%.16s", SNAP_CACHE_PREFIX, hex) >= size)
		return err_set(e, EXIT_SYSTEM, "cache name: buffer too small");
	return 0;
}

/* Hard links (keep) or puts back (restore) the VM's writable disks as
 * .NAME.fresh: a failed restore leaves the snapshot's copies in place. */
static int fresh_disks(const struct vm_paths *p, const struct vm_config *c, int how, struct err *e)
{
	const char *disks[VM_DISKS_MAX];
	int n = vm_writable_disks(p, c, disks), rc = 0;

	for (int i = 0; i < n; i++) {
		char keep[LIMIT_PATH];

		if (path_joinf(keep, sizeof(keep), e, p->dir, ".%s.fresh",
			       strrchr(disks[i], '/') + 1) < 0)
			return -1;
		if (how == 0) {
			unlink(keep);
			if (link(disks[i], keep) < 0)
				return err_errno(e, 0, "%s", keep);
		} else if (how == 1 && rename(keep, disks[i]) < 0) {
			rc = err_errno(e, 0, "%s", disks[i]);
		} else if (how == 2) {
			unlink(keep);
		}
	}
	return rc;
}

int snap_cache_start(const struct store *s, const struct vm_paths *p, struct vm_config *c,
		     const char *name, int timeout_ms, char *notice, size_t notice_size, char *why,
		     size_t why_size, struct err *e)
{
	char dir[LIMIT_PATH], man[LIMIT_PATH];
	bool gone;

	why[0] = '\0';
	if (store_object_dir(s, "snapshots", name, dir, sizeof(dir), e) < 0 ||
	    path_join(man, sizeof(man), dir, "manifest.json", e) < 0)
		return -1;
	if (access(man, F_OK) < 0)
		return 0;
	if (fresh_disks(p, c, 0, e) < 0)
		return -1;
	if (snap_start(s, p, c, name, notice, notice_size, NULL, e) < 0) {
		snprintf(why, why_size, "%s", e->msg);
		err_init(e);
		if (vm_status_get(p, NULL) == VM_RUNNING)
			vm_kill(p, c, SIGKILL, &gone, e);
		err_init(e);
		if (fresh_disks(p, c, 1, e) < 0)
			return -1;
		return 0;
	}
	fresh_disks(p, c, 2, e);
	if (snap_identity(p, c, timeout_ms, e) < 0)
		return -1;
	return 1;
}

int snap_cache_prune(const struct store *s, int *n, struct err *e)
{
	char dir[LIMIT_PATH];
	struct dirent *d;
	DIR *dh;
	int rc = 0;

	*n = 0;
	if (store_kind_dir(s, "snapshots", dir, sizeof(dir), e) < 0)
		return -1;
	if (!(dh = opendir(dir)))
		return err_errno(e, 0, "%s", dir);
	while ((d = readdir(dh))) {
		if (strncmp(d->d_name, SNAP_CACHE_PREFIX, strlen(SNAP_CACHE_PREFIX)))
			continue;
		if (snap_remove(s, d->d_name, e) < 0) {
			if (e->code == EXIT_NOTFOUND) { /* gone meanwhile */
				err_init(e);
				continue;
			}
			rc = -1;
			break;
		}
		(*n)++;
	}
	closedir(dh);
	return rc;
}
