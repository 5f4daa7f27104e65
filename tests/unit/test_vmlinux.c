/* Unit tests: lib/kernel/vmlinux.c on crafted bzImages — payload found from the
 * boot header and by scanning, gzip/xz/zstd payloads, the appended size
 * checked, ELF headers checked, garbage refused. */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "kernel/vmlinux.h"

#include <lzma.h>
#include <stdint.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define ELF_LEN 70000

static unsigned char elf[ELF_LEN];

static void make_elf(uint16_t machine)
{
	for (size_t i = 0; i < ELF_LEN; i++)
		elf[i] = (unsigned char)(i * 7 + i / 251);
	memcpy(elf, "\177ELF\2\1\1", 7);
	memset(elf + 7, 0, 9);
	elf[16] = 2; /* ET_EXEC */
	elf[17] = 0;
	elf[18] = (unsigned char)machine;
	elf[19] = (unsigned char)(machine >> 8);
	/* One program header covering the whole file, no section headers. */
	memset(elf + 20, 0, 44 + 56);
	elf[32] = 64;			       /* e_phoff */
	elf[54] = 56;			       /* e_phentsize */
	elf[56] = 1;			       /* e_phnum */
	elf[64 + 32] = (unsigned char)ELF_LEN; /* p_filesz */
	elf[64 + 33] = (unsigned char)(ELF_LEN >> 8);
	elf[64 + 34] = (unsigned char)(ELF_LEN >> 16);
}

static size_t gzip_of(const void *in, size_t len, unsigned char *out, size_t cap)
{
	z_stream z = { 0 };

	deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	deflateEnd(&z);
	return z.total_out;
}

static size_t xz_of(const void *in, size_t len, unsigned char *out, size_t cap)
{
	size_t pos = 0;

	lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, len, out, &pos, cap);
	return pos;
}

static size_t zstd_of(const void *in, size_t len, unsigned char *out, size_t cap)
{
	return ZSTD_compress(out, cap, in, len, 3);
}

/* A bzImage: 2 setup sectors (+ boot sector), header fields, payload with
 * the uncompressed size appended. with_header=0 leaves the protocol at 2.04
 * so the payload must be found by scanning. */
static size_t make_bzimage(unsigned char *img, size_t cap,
			   size_t (*comp)(const void *, size_t, unsigned char *, size_t),
			   int with_header, uint32_t size_trailer)
{
	size_t setup = 3 * 512, n;

	memset(img, 0, setup);
	img[0x1f1] = 2;
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = with_header ? 0x0f : 0x04;
	img[0x207] = 0x02;
	img[0x20e] = 0x00; /* version string at 0x200 + 0x300 */
	img[0x20f] = 0x03;
	memcpy(img + 0x500, "6.1.99-test (x@y) #1", 21);
	memcpy(img + setup, "decompressor-code", 17);
	n = comp(elf, ELF_LEN, img + setup + 64, cap - setup - 64 - 4);
	img[0x248] = 64; /* payload_offset */
	memcpy(img + setup + 64 + n, &size_trailer, 4);
	n += 4;
	img[0x24c] = (unsigned char)n;
	img[0x24d] = (unsigned char)(n >> 8);
	img[0x24e] = (unsigned char)(n >> 16);
	return setup + 64 + n;
}

static int extract(const unsigned char *img, size_t len, struct vmlinux_info *info, struct err *e)
{
	char path[] = "/tmp/banger-vmlinux-XXXXXX";
	int fd = mkstemp(path), rc;
	unsigned char head[ELF_LEN];

	unlink(path);
	err_init(e);
	rc = vmlinux_extract(img, len, fd, info, e);
	if (rc == 0) {
		CHECK(pread(fd, head, ELF_LEN, 0) == ELF_LEN && !memcmp(head, elf, ELF_LEN));
		CHECK(lseek(fd, 0, SEEK_END) == ELF_LEN);
	}
	close(fd);
	return rc;
}

static unsigned char img[ELF_LEN * 2];

static void payloads(void)
{
	struct vmlinux_info info;
	struct err e;
	size_t n;

	make_elf(62);
	n = make_bzimage(img, sizeof(img), gzip_of, 1, ELF_LEN);
	CHECK(extract(img, n, &info, &e) == 0);
	CHECK_STR(info.compression, "gzip");
	CHECK_STR(info.version, "6.1.99-test");
	CHECK(info.size == ELF_LEN);
	n = make_bzimage(img, sizeof(img), xz_of, 1, ELF_LEN);
	CHECK(extract(img, n, &info, &e) == 0);
	CHECK_STR(info.compression, "xz");
	n = make_bzimage(img, sizeof(img), zstd_of, 1, ELF_LEN);
	CHECK(extract(img, n, &info, &e) == 0);
	CHECK_STR(info.compression, "zstd");
	/* Old protocol: no payload fields, found by scanning. */
	n = make_bzimage(img, sizeof(img), gzip_of, 0, ELF_LEN);
	CHECK(extract(img, n, &info, &e) == 0);
	CHECK_STR(info.compression, "gzip");
	/* A bare compressed vmlinux (vmlinux.xz, vmlinux.zst). */
	n = xz_of(elf, ELF_LEN, img, sizeof(img));
	CHECK(extract(img, n, &info, &e) == 0);
	CHECK_STR(info.compression, "xz");
	n = zstd_of(elf, ELF_LEN, img, sizeof(img));
	CHECK(extract(img, n, &info, &e) == 0);
	CHECK_STR(info.compression, "zstd");
	/* Already an ELF: copied as is. */
	CHECK(extract(elf, ELF_LEN, &info, &e) == 0);
	CHECK_STR(info.compression, "none");
}

static void refused(void)
{
	struct err e;
	size_t n;

	make_elf(62);
	/* The appended size disagrees: corrupt. */
	n = make_bzimage(img, sizeof(img), gzip_of, 1, ELF_LEN + 1);
	CHECK(extract(img, n, NULL, &e) < 0 && e.code == EXIT_VERIFY);
	CHECK(strstr(e.msg, "corrupt") != NULL);
	/* Truncated payload. */
	n = make_bzimage(img, sizeof(img), xz_of, 0, ELF_LEN);
	CHECK(extract(img, n - 200, NULL, &e) < 0 && e.code == EXIT_VERIFY);
	/* Decompresses, but not to an ELF kernel (wrong machine, then no ELF). */
	make_elf(40);
	n = make_bzimage(img, sizeof(img), gzip_of, 1, ELF_LEN);
	CHECK(extract(img, n, NULL, &e) < 0 && e.code == EXIT_VERIFY);
	make_elf(62);
	elf[0] = 'X';
	n = make_bzimage(img, sizeof(img), zstd_of, 1, ELF_LEN);
	CHECK(extract(img, n, NULL, &e) < 0 && e.code == EXIT_VERIFY);
	/* Nothing compressed at all. */
	memset(img, 'A', 4096);
	CHECK(extract(img, 4096, NULL, &e) < 0 && e.code == EXIT_VERIFY);
	CHECK(strstr(e.msg, "vmlinuz") != NULL);
}

static void elf_check(void)
{
	struct err e;

	make_elf(183);
	err_init(&e);
	CHECK(vmlinux_check_elf(elf, 64, "k", &e) == 0);
	CHECK(vmlinux_check_elf(elf, 63, "k", &e) < 0);
	elf[4] = 1; /* 32-bit */
	CHECK(vmlinux_check_elf(elf, 64, "k", &e) < 0 && strstr(e.msg, "64-bit"));
	make_elf(62);
	elf[16] = 3; /* ET_DYN */
	CHECK(vmlinux_check_elf(elf, 64, "k", &e) < 0 && strstr(e.msg, "type"));
}

int main(void)
{
	HARNESS_BEGIN("vmlinux");
	RUN(payloads);
	RUN(refused);
	RUN(elf_check);
	HARNESS_END();
}
