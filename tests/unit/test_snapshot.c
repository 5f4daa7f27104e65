/* Unit tests: lib/vm/snapshot.c's pure parts — manifest.json both ways and
 * what it refuses, the identity check (each difference its own line), the
 * disk digest (holes and zero blocks alike), the file checks (a truncated
 * or corrupt memory file). */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "path.h"
#include "vm/snapshot.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void sample(struct snap_manifest *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "web-ready");
	snprintf(m->vm, sizeof(m->vm), "web");
	m->created = 1796216343;
	snprintf(m->banger_version, sizeof(m->banger_version), "0.1.0");
	snprintf(m->vmm, sizeof(m->vmm), "qemu");
	snprintf(m->vmm_version, sizeof(m->vmm_version), "7.2.22 (Debian)");
	snprintf(m->accel, sizeof(m->accel), "tcg");
	snprintf(m->kernel, sizeof(m->kernel), "deb");
	snprintf(m->kernel_digest, sizeof(m->kernel_digest), "sha256:%064d", 1);
	snprintf(m->initrd_digest, sizeof(m->initrd_digest), "sha256:%064d", 2);
	snprintf(m->image, sizeof(m->image), "plain");
	snprintf(m->image_digest, sizeof(m->image_digest), "sha256:%064d", 3);
	snprintf(m->base_id, sizeof(m->base_id), "65024:11");
	m->cpus = 2;
	m->mem_mib = 256;
	snprintf(m->disk, sizeof(m->disk), "overlay");
	snprintf(m->net, sizeof(m->net), "none");
	snprintf(m->vm_dir, sizeof(m->vm_dir), "/h/vms/web");
	m->nfiles = 2;
	snprintf(m->files[0].name, sizeof(m->files[0].name), "state.mig");
	snprintf(m->files[0].role, sizeof(m->files[0].role), "memory");
	m->files[0].size = 71434997;
	snprintf(m->files[0].sha256, sizeof(m->files[0].sha256), "%064d", 4);
	snprintf(m->files[1].name, sizeof(m->files[1].name), "upper.ext4");
	snprintf(m->files[1].role, sizeof(m->files[1].role), "disk");
	m->files[1].size = 8ULL << 30;
	snprintf(m->files[1].sha256, sizeof(m->files[1].sha256), "%064d", 5);
	m->save_ms = 795;
	m->downtime_ms = 563;
}

static void manifest_round_trip(void)
{
	struct snap_manifest m, n;
	struct err e;
	char *s;

	err_init(&e);
	sample(&m);
	s = snap_manifest_to_json(&m, &e);
	CHECK(s != NULL);
	CHECK(snap_manifest_from_json(s, strlen(s), &n, &e) == 0);
	CHECK(!memcmp(&m, &n, sizeof(m)));
	free(s);
}

static void manifest_refusals(void)
{
	static const char *const bad[] = {
		"[]",
		"{\"cpus\": 0, \"files\": []}",
		"{\"memory_mib\": \"256\", \"files\": []}",
		"{\"vmm\": 5, \"files\": []}",
		"{\"name\": \"web\"}", /* no files */
		"{\"files\": [{\"name\": \"../x\", \"role\": \"disk\", \"size\": 1, \"sha256\": "
		"\"\"}]}",
		"{\"files\": [{\"name\": \"x\", \"role\": \"disk\", \"sha256\": \"\"}]}",
		"{\"files\": [{\"name\": \"x\", \"role\": \"memory\", \"size\": 1, \"sha256\": "
		"\"ABC\"}]}",
		"{\"files\": [1, 2, 3, 4, 5, 6, 7, 8, 9]}",
	};
	char longname[200];
	struct snap_manifest m;
	struct err e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_init(&e);
		CHECK(snap_manifest_from_json(bad[i], strlen(bad[i]), &m, &e) == -1 &&
		      e.code == EXIT_VERIFY);
	}
	snprintf(longname, sizeof(longname), "{\"vm\": \"%0100d\", \"files\": []}", 0);
	err_init(&e);
	CHECK(snap_manifest_from_json(longname, strlen(longname), &m, &e) == -1 &&
	      strstr(e.msg, "\"vm\" must be a string under 65 bytes"));
}

/* want differs from the sample in one field: refused, the message naming it. */
#define REFUSED(field_change, needle)                                                              \
	do {                                                                                       \
		sample(&m);                                                                        \
		sample(&w);                                                                        \
		field_change;                                                                      \
		err_init(&e);                                                                      \
		CHECK(snap_check_identity(&m, &w, &e) == -1 && e.code == EXIT_VERIFY);             \
		CHECK(strstr(e.msg, needle) != NULL);                                              \
		CHECK(!strchr(e.msg, '\n'));                                                       \
	} while (0)

static void identity_checks(void)
{
	struct snap_manifest m, w;
	struct err e;

	sample(&m);
	sample(&w);
	err_init(&e);
	CHECK(snap_check_identity(&m, &w, &e) == 0);
	/* Another base file of the same image digest is the same bytes. */
	snprintf(w.base_id, sizeof(w.base_id), "65024:12");
	CHECK(snap_check_identity(&m, &w, &e) == 0);
	REFUSED(snprintf(w.banger_version, sizeof(w.banger_version), "0.2.0"),
		"was taken by banger 0.1.0; this is banger 0.2.0 — take it again");
	REFUSED(snprintf(w.vmm, sizeof(w.vmm), "firecracker"), "is of a qemu, not firecracker");
	REFUSED(snprintf(w.kernel, sizeof(w.kernel), "other"), "is of kernel deb");
	REFUSED(w.kernel_digest[10] = '9', "is of kernel deb");
	REFUSED(w.initrd_digest[10] = '9', "another initramfs");
	REFUSED(snprintf(w.image, sizeof(w.image), "other"), "is of image plain, not other");
	REFUSED((snprintf(w.base_id, sizeof(w.base_id), "1:2"), w.image_digest[10] = '9'),
		"runs another copy of it");
	REFUSED((snprintf(w.base_id, sizeof(w.base_id), "1:2"), m.image_digest[0] = '\0'),
		"(unknown)");
	REFUSED(w.mem_mib = 512, "is of 2 vCPUs and 256 MiB, VM 'web' has 2 and 512");
	REFUSED(w.cpus = 1, "VM 'web' has 1 and 256");
	REFUSED(snprintf(w.net, sizeof(w.net), "user"), "is of --net none, not user");
	REFUSED(snprintf(w.disk, sizeof(w.disk), "copy"), "is of a --disk overlay, not copy");
	REFUSED((snprintf(m.vmm, sizeof(m.vmm), "firecracker"),
		 snprintf(w.vmm, sizeof(w.vmm), "firecracker"),
		 snprintf(w.vm_dir, sizeof(w.vm_dir), "/h/vms/other")),
		"is Firecracker's, whose state names VM 'web''s disks");
}

static void write_at(const char *path, off_t off, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	CHECK(fd >= 0 && pwrite(fd, data, strlen(data), off) == (ssize_t)strlen(data));
	close(fd);
}

static void disk_digest_ignores_holes(void)
{
	const char *dir = harness_tmpdir();
	char sparse[256], dense[256], other[256], h1[65], h2[65], h3[65];
	static char zeros[1 << 20];
	struct err e;
	int fd;

	err_init(&e);
	snprintf(sparse, sizeof(sparse), "%s/sparse", dir);
	snprintf(dense, sizeof(dense), "%s/dense", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	/* The same bytes: one with holes, one written out in full. */
	fd = open(sparse, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && ftruncate(fd, 3 << 20) == 0);
	close(fd);
	write_at(sparse, 5000, "hello");
	write_at(sparse, (2 << 20) + 7, "world");
	fd = open(dense, O_WRONLY | O_CREAT, 0644);
	for (int i = 0; i < 3; i++)
		CHECK(write(fd, zeros, sizeof(zeros)) == (ssize_t)sizeof(zeros));
	close(fd);
	write_at(dense, 5000, "hello");
	write_at(dense, (2 << 20) + 7, "world");
	CHECK(snap_disk_digest(sparse, h1, &e) == 0 && snap_disk_digest(dense, h2, &e) == 0);
	CHECK_STR(h1, h2);
	/* One byte moved, or the size changed: another digest. */
	fd = open(other, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && ftruncate(fd, 3 << 20) == 0);
	close(fd);
	write_at(other, 5001, "hello");
	write_at(other, (2 << 20) + 7, "world");
	CHECK(snap_disk_digest(other, h3, &e) == 0 && strcmp(h1, h3));
	CHECK(truncate(dense, (3 << 20) + 4096) == 0);
	CHECK(snap_disk_digest(dense, h3, &e) == 0 && strcmp(h1, h3));
	CHECK(snap_disk_digest("/nonexistent/disk", h3, &e) == -1 && e.code == EXIT_NOTFOUND);
	path_remove_tree(dir, &e);
}

static void file_checks(void)
{
	const char *dir = harness_tmpdir();
	char path[256];
	struct snap_manifest m;
	struct err e;

	err_init(&e);
	sample(&m);
	m.nfiles = 1;
	snprintf(path, sizeof(path), "%s/state.mig", dir);
	write_at(path, 0, "state");
	m.files[0].size = 5;
	CHECK(sha256_file(path, m.files[0].sha256, &e) == 0);
	CHECK(snap_check_files(dir, &m, &e) == 0);
	write_at(path, 0, "stAte");
	CHECK(snap_check_files(dir, &m, &e) == -1 && e.code == EXIT_VERIFY &&
	      strstr(e.msg, "state.mig does not match its sha256 (corrupt)"));
	CHECK(truncate(path, 4) == 0);
	err_init(&e);
	CHECK(snap_check_files(dir, &m, &e) == -1 && e.code == EXIT_VERIFY &&
	      strstr(e.msg, "state.mig is 4 bytes, the manifest says 5 (truncated?)"));
	unlink(path);
	err_init(&e);
	CHECK(snap_check_files(dir, &m, &e) == -1 && e.code == EXIT_VERIFY &&
	      strstr(e.msg, "its memory file state.mig is missing"));
	m.nfiles = 0;
	CHECK(snap_check_files(dir, &m, &e) == -1 && strstr(e.msg, "lists no files"));
	path_remove_tree(dir, &e);
}

/* Writes a verified stamp for state.mig as st has it, its reading begun
 * after nanoseconds past the file's ctime. */
static void stamp_for(const char *stamp, const struct stat *st, long long after, const char *sha)
{
	long long ct = (long long)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
	char line[512];

	snprintf(line, sizeof(line), "state.mig %llu %llu %lld %lld %lld %lld %s\n",
		 (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
		 (long long)st->st_size,
		 (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec, ct, ct + after,
		 sha);
	unlink(stamp);
	write_at(stamp, 0, line);
}

/* A stamp vouches for a file only while its inode, size, mtime and ctime
 * are the ones recorded, and only when its reading began well after the
 * file's ctime (here: a stamp "from the future", written by hand). */
static void stamp_skips_only_untouched_files(void)
{
	const char *dir = harness_tmpdir();
	char path[256], stamp[256];
	struct snap_manifest m;
	struct stat st;
	struct err e;

	err_init(&e);
	sample(&m);
	m.nfiles = 1;
	snprintf(path, sizeof(path), "%s/state.mig", dir);
	snprintf(stamp, sizeof(stamp), "%s/verified", dir);
	write_at(path, 0, "state");
	m.files[0].size = 5;
	/* The manifest's digest is not this content's: only a stamp that
	 * vouches lets it through, since nothing is hashed then. */
	CHECK(stat(path, &st) == 0);
	stamp_for(stamp, &st, 10000000000LL, m.files[0].sha256);
	CHECK(snap_check_files(dir, &m, &e) == 0);
	/* Written since: the stamp no longer vouches, the digest is taken. */
	write_at(path, 0, "stAte");
	CHECK(snap_check_files(dir, &m, &e) == -1 && strstr(e.msg, "(corrupt)"));
	/* A stamp whose reading began within the settling time of the file's
	 * last write proves nothing (the kernel's clock is coarse). */
	CHECK(stat(path, &st) == 0);
	stamp_for(stamp, &st, 40000000LL, m.files[0].sha256);
	err_init(&e);
	CHECK(snap_check_files(dir, &m, &e) == -1 && strstr(e.msg, "(corrupt)"));
	path_remove_tree(dir, &e);
}

int main(void)
{
	HARNESS_BEGIN("snapshot");
	RUN(manifest_round_trip);
	RUN(manifest_refusals);
	RUN(identity_checks);
	RUN(disk_digest_ignores_holes);
	RUN(file_checks);
	RUN(stamp_skips_only_untouched_files);
	HARNESS_END();
}
