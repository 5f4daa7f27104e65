/* vmlinux.h — the ELF kernel Firecracker boots, cut out of a bzImage.
 *
 * A bzImage (vmlinuz) is real-mode setup code followed by a compressed
 * vmlinux. The boot protocol header (Documentation/x86/boot.rst) says where
 * the payload is (payload_offset/payload_length, protocol 2.08+); without
 * it (kernels before 2.6.26, or a bare vmlinux.gz/.xz/.zst), the image is
 * scanned for a compressor's magic, as the kernel's own
 * scripts/extract-vmlinux does; then the ELF must prove itself whole (its
 * segments and section table inside what was decompressed). The payload is decompressed with
 * libarchive's raw filters (gzip, xz, lzma, zstd and lz4 built in — Debian's
 * kernels are lz4; bzip2 and lzo through the matching external program),
 * and the result must be an x86-64 or arm64 ELF
 * executable whose size matches the 4-byte size the kernel build appends
 * after the payload.
 *
 * Calls block on disk I/O (and on the external decompressor, if used).
 */
#ifndef BANGER_VMLINUX_H
#define BANGER_VMLINUX_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

struct err;

struct vmlinux_info {
	char version[LIMIT_NAME +
		     1]; /* release from the bzImage header ("6.1.0-57-cloud-amd64"), or "" */
	const char *compression; /* "gzip", "xz", "lzma", "zstd", "lz4", "bzip2", "lzo", "none" */
	uint64_t size;		 /* bytes of ELF written */
};

/* Checks that p (len bytes, at least the ELF header) starts an x86-64 or
 * arm64 little-endian ELF executable. EXIT_VERIFY naming `what` if not. */
int vmlinux_check_elf(const void *p, size_t len, const char *what, struct err *e);

/* Where the compressed payload of a bzImage is: from the header when it
 * says, else the first known magic. *trailer is the uncompressed size the
 * build appended (0 when unknown). EXIT_VERIFY when there is none. */
int vmlinux_find_payload(const unsigned char *img, size_t len, size_t *off, size_t *plen,
			 uint32_t *trailer, const char **comp, struct err *e);

/* Writes the ELF vmlinux held in img (a bzImage, or already an ELF) to
 * out_fd, which must be empty and seekable. info may be NULL. Errors:
 * EXIT_VERIFY (not a kernel image, corrupt payload, not an ELF, size
 * mismatch), EXIT_SYSTEM (write failure, or the external decompressor is
 * missing — the message says which program to install). */
int vmlinux_extract(const unsigned char *img, size_t len, int out_fd, struct vmlinux_info *info,
		    struct err *e);

/* vmlinux_extract from the file at in to out (written atomically, 0644).
 * The input is read whole (ceiling LIMIT_VMLINUZ). */
int vmlinux_extract_file(const char *in, const char *out, struct vmlinux_info *info, struct err *e);

#endif
