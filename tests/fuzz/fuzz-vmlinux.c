/* fuzz-vmlinux — lib/kernel/vmlinux.c: finding, decompressing and checking
 * the ELF inside a bzImage. The input is the image (placed against a guard
 * page). Invariants: a payload found lies inside the image; an extraction
 * that succeeds wrote exactly info.size bytes of an ELF that passes
 * vmlinux_check_elf, and named its compression; a refusal says why. */
#include "fuzz.h"

#include "err.h"
#include "kernel/vmlinux.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *img = (const unsigned char *)guard_place(data, size);
	struct vmlinux_info info;
	size_t off, plen;
	uint32_t trailer;
	const char *comp;
	unsigned char head[64];
	struct stat st;
	struct err e;
	int fd;

	err_init(&e);
	if (vmlinux_find_payload(img, size, &off, &plen, &trailer, &comp, &e) == 0)
		FUZZ_CHECK(off <= size && plen <= size - off && comp && *comp);
	else
		FUZZ_CHECK(e.msg[0]);
	fd = memfd_create("vmlinux", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0);
	err_init(&e);
	if (vmlinux_extract(img, size, fd, &info, &e) == 0) {
		FUZZ_CHECK(info.compression && FUZZ_TERMINATED(info.version));
		FUZZ_CHECK(fstat(fd, &st) == 0 && (uint64_t)st.st_size == info.size);
		FUZZ_CHECK(pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head));
		err_init(&e);
		FUZZ_CHECK(vmlinux_check_elf(head, sizeof(head), "out", &e) == 0);
	} else {
		FUZZ_CHECK(e.msg[0] && e.code);
	}
	close(fd);
	return 0;
}
