/* fuzz-kmod — lib/kernel/kmod.c. First byte even: the rest is a module
 * image whose .modinfo is read (placed against a guard page); a value found
 * must be terminated, fit, and appear in the image as "key=value". Odd: the
 * rest is modules.dep, then after a 0xff byte modules.builtin, written to a
 * scratch directory; the closure of every module must list each module
 * once, built-in ones never, and each dependency before what needs it. */
#include "fuzz.h"

#include "err.h"
#include "kernel/kmod.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void put(const char *name, const void *p, size_t n)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FUZZ_CHECK(fd >= 0 && write(fd, p, n) == (ssize_t)n);
	close(fd);
}

static void modinfo(const uint8_t *p, size_t n)
{
	static const char *const keys[] = { "depends", "vermagic", "name", "license" };
	const unsigned char *elf = (const unsigned char *)guard_place(p, n);
	char out[256], pat[300];
	struct err e;

	for (size_t k = 0; k < 4; k++) {
		int rc;

		err_init(&e);
		rc = kmod_modinfo(elf, n, keys[k], out, sizeof(out), &e);
		FUZZ_CHECK(rc >= -1 && rc <= 1);
		if (rc < 0)
			FUZZ_CHECK(e.msg[0]);
		if (rc == 0) {
			size_t l = (size_t)snprintf(pat, sizeof(pat), "%s=%s", keys[k], out);

			FUZZ_CHECK(FUZZ_TERMINATED(out) && memmem(p, n, pat, l));
		}
	}
}

static void closure(const uint8_t *p, size_t n)
{
	const uint8_t *sep = memchr(p, 0xff, n);
	struct kmod_index x;
	struct err e;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/fuzz-kmod-%d", (int)getpid());
		FUZZ_CHECK(mkdir(dir, 0755) == 0 || errno == EEXIST);
	}
	put("modules.dep", p, sep ? (size_t)(sep - p) : n);
	if (sep)
		put("modules.builtin", sep + 1, n - (size_t)(sep + 1 - p));
	else
		put("modules.builtin", "", 0);
	err_init(&e);
	if (kmod_index_init(&x, dir, &e) < 0) {
		FUZZ_CHECK(e.msg[0]);
		return;
	}
	for (int i = 0; i < x.n && i < 16; i++) {
		const char *want[1] = { x.mods[i].name };
		int order[64], no = 0, ns = 0;
		const char *skipped[1];

		err_init(&e);
		if (kmod_closure(&x, want, 1, true, order, 64, &no, skipped, 1, &ns, &e) < 0) {
			FUZZ_CHECK(e.msg[0]);
			continue;
		}
		for (int a = 0; a < no; a++) {
			FUZZ_CHECK(order[a] >= 0 && order[a] < x.n);
			FUZZ_CHECK(!kmod_is_builtin(&x, x.mods[order[a]].name));
			for (int b = 0; b < a; b++)
				FUZZ_CHECK(order[a] != order[b]);
		}
		/* Each module's listed dependencies come before it. */
		for (int a = 0; a < no; a++) {
			const char *d = x.mods[order[a]].deps;

			while (d && *d) {
				char path[256], name[64];
				size_t l;
				struct kmod_mod *m;

				d += strspn(d, " ");
				l = strcspn(d, " ");
				if (!l || l >= sizeof(path))
					break;
				memcpy(path, d, l);
				path[l] = '\0';
				d += l;
				kmod_name(path, name, sizeof(name));
				if (kmod_is_builtin(&x, name) || !(m = kmod_find(&x, name)))
					continue;
				bool before = false;
				for (int b = 0; b < a; b++)
					before |= order[b] == (int)(m - x.mods);
				FUZZ_CHECK(before);
			}
		}
	}
	kmod_index_fini(&x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		closure(data + 1, size - 1);
	else
		modinfo(data + 1, size - 1);
	return 0;
}
