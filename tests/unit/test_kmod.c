/* Unit tests: lib/kernel/kmod.c — modules.dep, closure order, built-ins, .modinfo. */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "kernel/kmod.h"

#include <elf.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

static const char *names(struct kmod_index *x, const int *order, int n)
{
	static char out[1024];
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", i ? " " : "",
				      x->mods[order[i]].name);
	return out;
}

static void closure_from_modules_dep(void)
{
	const char *dir = harness_tmpdir();
	const char *want[] = { "net-x", "blk", "ext4", "absent" }, *skipped[4];
	struct kmod_index x;
	int order[16], n, ns;
	struct err e;

	err_init(&e);
	/* modules.dep lists every module's full dependency set. */
	put(dir, "modules.dep",
	    "kernel/ring.ko:\n"
	    "kernel/core.ko: kernel/ring.ko\n"
	    "kernel/net-x.ko.xz: kernel/failover.ko kernel/core.ko kernel/ring.ko\n"
	    "kernel/failover.ko:\n"
	    "kernel/blk.ko: kernel/core.ko kernel/ring.ko\n");
	put(dir, "modules.builtin", "kernel/fs/ext4/ext4.ko\nkernel/lib/crc16.ko\n");
	CHECK(kmod_index_init(&x, dir, &e) == 0);
	CHECK(x.n == 5 && x.have_dep);
	CHECK(kmod_find(&x, "net_x") != NULL);
	CHECK(kmod_is_builtin(&x, "ext4") && !kmod_is_builtin(&x, "blk"));
	CHECK(kmod_closure(&x, want, 4, true, order, 16, &n, skipped, 4, &ns, &e) == 0);
	CHECK_STR(names(&x, order, n), "failover ring core net_x blk");
	CHECK(ns == 1);
	CHECK_STR(skipped[0], "absent");
	/* not missing_ok: a wanted name that is nowhere is an error */
	CHECK(kmod_closure(&x, want, 4, false, order, 16, &n, skipped, 4, &ns, &e) == -1);
	CHECK(e.code == EXIT_NOTFOUND && strstr(e.msg, "module absent") != NULL);
	/* the ceiling on the number of modules */
	CHECK(kmod_closure(&x, want, 2, true, order, 3, &n, skipped, 4, &ns, &e) == -1);
	CHECK(e.code == EXIT_VERIFY);
	kmod_index_fini(&x);
}

static void broken_trees(void)
{
	const char *dir = harness_tmpdir();
	const char *want[] = { "a" }, *skipped[1];
	struct kmod_index x;
	int order[8], n, ns;
	struct err e;

	err_init(&e);
	CHECK(kmod_index_init(&x, dir, &e) == -1 && e.code == EXIT_NOTFOUND);
	put(dir, "modules.dep", "kernel/a.ko: kernel/gone.ko\n");
	CHECK(kmod_index_init(&x, dir, &e) == 0);
	CHECK(kmod_closure(&x, want, 1, true, order, 8, &n, skipped, 1, &ns, &e) == -1);
	CHECK(strstr(e.msg, "a needs module gone") != NULL);
	kmod_index_fini(&x);
	put(dir, "modules.dep", "kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n");
	CHECK(kmod_index_init(&x, dir, &e) == 0);
	CHECK(kmod_closure(&x, want, 1, true, order, 8, &n, skipped, 1, &ns, &e) == -1);
	CHECK(strstr(e.msg, "cycle") != NULL);
	kmod_index_fini(&x);
	put(dir, "modules.dep", "no colon here\n");
	CHECK(kmod_index_init(&x, dir, &e) == -1 && e.code == EXIT_VERIFY);
}

/* A minimal ELF64 relocatable: null section, .modinfo, .shstrtab. */
static size_t make_elf(unsigned char *buf, size_t size, const char *modinfo, size_t milen)
{
	static const char shstr[] = "\0.modinfo\0.shstrtab";
	Elf64_Ehdr h;
	Elf64_Shdr sh[3];
	size_t off = sizeof(h);

	memset(buf, 0, size);
	memset(&h, 0, sizeof(h));
	memcpy(h.e_ident, ELFMAG, SELFMAG);
	h.e_ident[EI_CLASS] = ELFCLASS64;
	h.e_ident[EI_DATA] = ELFDATA2LSB;
	h.e_ident[EI_VERSION] = EV_CURRENT;
	h.e_type = ET_REL;
	h.e_shentsize = sizeof(Elf64_Shdr);
	h.e_shnum = 3;
	h.e_shstrndx = 2;
	memset(sh, 0, sizeof(sh));
	memcpy(buf + off, modinfo, milen);
	sh[1].sh_name = 1;
	sh[1].sh_offset = off;
	sh[1].sh_size = milen;
	off += milen;
	memcpy(buf + off, shstr, sizeof(shstr));
	sh[2].sh_name = 10;
	sh[2].sh_offset = off;
	sh[2].sh_size = sizeof(shstr);
	off += sizeof(shstr);
	off = (off + 7) & ~(size_t)7;
	h.e_shoff = off;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + off, sh, sizeof(sh));
	return off + sizeof(sh);
}

static void modinfo_reads_and_bounds(void)
{
	static const char mi[] = "license=GPL\0depends=virtio,virtio_ring\0vermagic=6.1 SMP\0";
	unsigned char elf[512];
	char out[64];
	size_t len = make_elf(elf, sizeof(elf), mi, sizeof(mi));
	struct err e;

	err_init(&e);
	CHECK(kmod_modinfo(elf, len, "depends", out, sizeof(out), &e) == 0);
	CHECK_STR(out, "virtio,virtio_ring");
	CHECK(kmod_modinfo(elf, len, "vermagic", out, sizeof(out), &e) == 0);
	CHECK_STR(out, "6.1 SMP");
	CHECK(kmod_modinfo(elf, len, "alias", out, sizeof(out), &e) == 1);
	CHECK(kmod_modinfo(elf, len, "depends", out, 5, &e) == -1);
	/* Every truncation is refused or answered, never read out of bounds. */
	for (size_t l = 0; l < len; l++) {
		unsigned char *cut = malloc(l ? l : 1);
		memcpy(cut, elf, l);
		int r = kmod_modinfo(cut, l, "depends", out, sizeof(out), &e);
		CHECK(r == -1 || r == 0 || r == 1);
		free(cut);
	}
	elf[0] = 0;
	CHECK(kmod_modinfo(elf, len, "depends", out, sizeof(out), &e) == -1);
}

static void device_aliases_only(void)
{
	static const char mi[] = "alias=net-pf-40\0alias=virtio:d00000001v*\0license=GPL\0"
				 "alias=fs-overlay\0alias=pci:v00001AF4d*\0alias=virtio:\0";
	static const char none[] = "alias=net-pf-40\0alias=fs-overlay\0";
	unsigned char elf[512];
	char out[64];
	size_t len = make_elf(elf, sizeof(elf), mi, sizeof(mi));
	struct err e;

	err_init(&e);
	/* Device buses only, in order; protocol, fs and empty aliases left out. */
	CHECK(kmod_device_aliases(elf, len, out, sizeof(out), &e) == 0);
	CHECK_STR(out, "virtio:d00000001v* pci:v00001AF4d*");
	CHECK(kmod_device_aliases(elf, len, out, 20, &e) == -1 && e.code == EXIT_VERIFY);
	len = make_elf(elf, sizeof(elf), none, sizeof(none));
	CHECK(kmod_device_aliases(elf, len, out, sizeof(out), &e) == 1 && !out[0]);
	for (size_t l = 0; l < len; l++)
		CHECK(kmod_device_aliases(elf, l, out, sizeof(out), &e) != 0);
}

static void names_normalised(void)
{
	char n[64];

	kmod_name("kernel/drivers/char/hw_random/virtio-rng.ko.xz", n, sizeof(n));
	CHECK_STR(n, "virtio_rng");
	kmod_name("ext4.ko", n, sizeof(n));
	CHECK_STR(n, "ext4");
	kmod_name("a.kobj.ko", n, sizeof(n));
	CHECK_STR(n, "a.kobj");
}

int main(void)
{
	HARNESS_BEGIN("test_kmod");
	RUN(closure_from_modules_dep);
	RUN(broken_trees);
	RUN(modinfo_reads_and_bounds);
	RUN(device_aliases_only);
	RUN(names_normalised);
	HARNESS_END();
}
