/* vmlinux.c — see vmlinux.h. */
#include "kernel/vmlinux.h"
#include "decomp.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EM_X86_64_ 62
#define EM_AARCH64_ 183

/* Boot protocol header fields (Documentation/x86/boot.rst). */
#define HDR_SETUP_SECTS 0x1f1
#define HDR_MAGIC 0x202 /* "HdrS" */
#define HDR_VERSION 0x206
#define HDR_KERNEL_VERSION 0x20e
#define HDR_PAYLOAD_OFFSET 0x248
#define HDR_PAYLOAD_LENGTH 0x24c

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int vmlinux_check_elf(const void *p, size_t len, const char *what, struct err *e)
{
	const unsigned char *h = p;
	uint16_t type, machine;

	if (len < 64 || memcmp(h, "\177ELF", 4))
		return err_set(e, EXIT_VERIFY, "%s: not an ELF file", what);
	if (h[4] != 2 || h[5] != 1)
		return err_set(e, EXIT_VERIFY, "%s: not a 64-bit little-endian ELF", what);
	type = le16(h + 16);
	machine = le16(h + 18);
	if (type != 2)
		return err_set(e, EXIT_VERIFY, "%s: ELF type %u, not an executable kernel", what,
			       type);
	if (machine != EM_X86_64_ && machine != EM_AARCH64_)
		return err_set(e, EXIT_VERIFY, "%s: ELF machine %u, not x86-64 or arm64", what,
			       machine);
	return 0;
}

int vmlinux_find_payload(const unsigned char *img, size_t len, size_t *off, size_t *plen,
			 uint32_t *trailer, const char **comp, struct err *e)
{
	const char *m;

	*trailer = 0;
	if (len > HDR_PAYLOAD_LENGTH + 4 && !memcmp(img + HDR_MAGIC, "HdrS", 4) &&
	    le16(img + HDR_VERSION) >= 0x208) {
		size_t sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
		size_t start = (sects + 1) * 512 + le32(img + HDR_PAYLOAD_OFFSET);
		size_t n = le32(img + HDR_PAYLOAD_LENGTH);

		if (start < len && n >= 4 && n <= len - start &&
		    (m = decomp_sniff(img + start, n))) {
			*off = start;
			*plen = n - 4; /* the build appends the uncompressed size */
			*trailer = le32(img + start + n - 4);
			*comp = m;
			return 0;
		}
	}
	/* No usable header: the first magic that is followed by a payload. */
	for (size_t i = 0; i + 6 < len; i++) {
		if ((m = decomp_sniff(img + i, len - i))) {
			*off = i;
			*plen = len - i;
			*comp = m;
			return 0;
		}
	}
	return err_set(e, EXIT_VERIFY,
		       "no compressed kernel found (gzip, xz, lzma, zstd, lz4, bzip2, lzo) — is "
		       "this a vmlinuz/bzImage?");
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* True when every program segment and the section header table of the
 * ELF in fd (n bytes) lie inside those n bytes: the file is whole. */
static bool elf_complete(int fd, uint64_t n)
{
	unsigned char h[64], ph[56];
	uint64_t phoff, shoff, end;
	uint16_t phentsize, phnum, shentsize, shnum;

	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return false;
	phoff = le64(h + 32);
	shoff = le64(h + 40);
	phentsize = le16(h + 54);
	phnum = le16(h + 56);
	shentsize = le16(h + 58);
	shnum = le16(h + 60);
	if (phentsize < sizeof(ph) || phnum == 0 || phoff > n ||
	    (uint64_t)phentsize * phnum > n - phoff)
		return false;
	if (shoff && (shoff > n || (uint64_t)shentsize * shnum > n - shoff))
		return false;
	for (uint16_t i = 0; i < phnum; i++) {
		if (pread(fd, ph, sizeof(ph), (off_t)(phoff + (uint64_t)i * phentsize)) !=
		    (ssize_t)sizeof(ph))
			return false;
		end = le64(ph + 8) + le64(ph + 32); /* p_offset + p_filesz */
		if (end < le64(ph + 8) || end > n)
			return false;
	}
	return true;
}

/* Decompresses img[off, off+plen) with comp into fd from its start.
 * Returns 0, 1 when the output is not an ELF (try elsewhere), -1 on error. */
static int inflate_at(const unsigned char *img, size_t off, size_t plen, const char *comp,
		      bool strict, int fd, uint64_t *written, struct err *e)
{
	struct decomp d;
	char *buf = malloc(256 * 1024);
	bool checked = false;
	uint64_t n = 0;
	ssize_t r = 0;
	int rc = -1;

	memset(&d, 0, sizeof(d));
	if (!buf) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		err_errno(e, 0, "vmlinux: cannot rewrite the output");
		goto out;
	}
	/* A stream its decoder refuses at once may be a false magic: try on. */
	if ((rc = decomp_init(&d, img + off, plen, comp, "kernel payload", e)) != 0) {
		if (rc < 0 && e->code == EXIT_VERIFY)
			rc = 1;
		goto out;
	}
	rc = -1;
	while ((r = decomp_read(&d, buf, 256 * 1024, e)) > 0) {
		if (!checked) {
			/* Reads from a filter may be short: make sure we hold a header. */
			while (r < 64) {
				ssize_t more = decomp_read(&d, buf + r, 64 - (size_t)r, e);

				if (more <= 0)
					break;
				r += more;
			}
			if (vmlinux_check_elf(buf, (size_t)r, "vmlinux", e) < 0) {
				rc = 1;
				goto out;
			}
			checked = true;
		}
		n += (uint64_t)r;
		if (n > LIMIT_VMLINUX) {
			err_set(e, EXIT_VERIFY, "vmlinux: larger than %llu bytes",
				(unsigned long long)LIMIT_VMLINUX);
			goto out;
		}
		if (file_write_all(fd, buf, (size_t)r, "vmlinux", e) < 0)
			goto out;
	}
	/* Scanning, the payload's end is unknown and the decoder may trip over
	 * what follows it: accept that only when the ELF is provably whole. */
	if (r < 0 && checked && !strict && elf_complete(fd, n))
		r = 0;
	if (r < 0 && checked) {
		err_prefix(e, "%s payload is corrupt", comp);
		goto out;
	}
	if (r < 0 && e->code == EXIT_SYSTEM)
		goto out; /* an outside decompressor is missing */
	if (r < 0 || !checked) {
		rc = 1;
		goto out;
	}
	*written = n;
	rc = 0;
out:
	free(buf);
	decomp_fini(&d);
	return rc;
}

static void header_version(const unsigned char *img, size_t len, char *out, size_t size)
{
	size_t at, i;

	out[0] = '\0';
	if (len < HDR_KERNEL_VERSION + 2 || memcmp(img + HDR_MAGIC, "HdrS", 4) ||
	    !le16(img + HDR_KERNEL_VERSION))
		return;
	at = (size_t)le16(img + HDR_KERNEL_VERSION) + 0x200;
	for (i = 0; at + i < len && i + 1 < size; i++) {
		char c = (char)img[at + i];

		if (c == '\0' || c == ' ')
			break;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_' || c == '+')) {
			i = 0;
			break;
		}
		out[i] = c;
	}
	out[i] = '\0';
}

int vmlinux_extract(const unsigned char *img, size_t len, int out_fd, struct vmlinux_info *info,
		    struct err *e)
{
	struct vmlinux_info own;
	size_t off, plen;
	uint32_t trailer;
	const char *comp;
	uint64_t n = 0;
	int r;

	if (!info)
		info = &own;
	memset(info, 0, sizeof(*info));
	if (len >= 4 && !memcmp(img, "\177ELF", 4)) {
		if (vmlinux_check_elf(img, len, "vmlinux", e) < 0)
			return -1;
		info->compression = "none";
		info->size = len;
		return file_write_all(out_fd, img, len, "vmlinux", e);
	}
	header_version(img, len, info->version, sizeof(info->version));
	if (vmlinux_find_payload(img, len, &off, &plen, &trailer, &comp, e) < 0)
		return -1;
	r = inflate_at(img, off, plen, comp, trailer != 0, out_fd, &n, e);
	/* A magic inside the setup code is a false hit: keep scanning. */
	while (r == 1 && !trailer) {
		const char *m = NULL;

		for (off++; off + 6 < len && !(m = decomp_sniff(img + off, len - off));)
			off++;
		if (!m)
			break;
		comp = m;
		r = inflate_at(img, off, len - off, m, false, out_fd, &n, e);
	}
	if (r == 1)
		return err_set(e, EXIT_VERIFY,
			       "the %s payload does not decompress to an ELF kernel — is this a "
			       "vmlinuz/bzImage?",
			       comp);
	if (r < 0)
		return -1;
	if (trailer && n != trailer)
		return err_set(e, EXIT_VERIFY,
			       "vmlinux is %llu bytes, the image says %u — the payload is corrupt",
			       (unsigned long long)n, trailer);
	if (!elf_complete(out_fd, n))
		return err_set(e, EXIT_VERIFY,
			       "vmlinux: its ELF segments run past its %llu bytes — the payload is "
			       "truncated or corrupt",
			       (unsigned long long)n);
	info->compression = comp;
	info->size = n;
	return 0;
}

int vmlinux_extract_file(const char *in, const char *out, struct vmlinux_info *info, struct err *e)
{
	struct atomic_file af;
	char *img;
	size_t len;
	int rc;

	if (file_read_all(in, LIMIT_VMLINUZ, &img, &len, e) < 0)
		return -1;
	if (atomic_open(&af, out, 0644, e) < 0) {
		free(img);
		return -1;
	}
	rc = vmlinux_extract((const unsigned char *)img, len, af.fd, info, e);
	free(img);
	if (rc < 0) {
		err_prefix(e, "%s", in);
		atomic_abort(&af);
		return -1;
	}
	return atomic_commit(&af, e);
}
