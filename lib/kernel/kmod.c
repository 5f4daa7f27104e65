/* kmod.c — see kmod.h. */
#include "kernel/kmod.h"
#include "decomp.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "path.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

void kmod_name(const char *path, char *out, size_t size)
{
	const char *base = strrchr(path, '/');
	size_t n = 0;

	base = base ? base + 1 : path;
	for (; *base && n + 1 < size; base++) {
		if (!strncmp(base, ".ko", 3) && (!base[3] || base[3] == '.'))
			break;
		out[n++] = *base == '-' ? '_' : *base;
	}
	out[n] = '\0';
}

/* Splits text into lines; calls add for each non-empty one. */
static int load_list(struct kmod_index *x, struct err *e)
{
	int cap = 0;

	for (char *line = x->list; line && *line;) {
		char *nl = strchr(line, '\n'), *colon;

		if (nl)
			*nl = '\0';
		if (*line) {
			struct kmod_mod *m;

			if (x->n == cap) {
				cap = cap ? cap * 2 : 1024;
				void *p = realloc(x->mods, (size_t)cap * sizeof(*x->mods));
				if (!p)
					return err_set(e, EXIT_SYSTEM,
						       "module index: out of memory");
				x->mods = p;
			}
			m = &x->mods[x->n++];
			memset(m, 0, sizeof(*m));
			colon = x->have_dep ? strchr(line, ':') : NULL;
			if (x->have_dep && !colon)
				return err_set(
					e, EXIT_VERIFY,
					"%s/modules.dep: malformed line '%.60s' — rerun depmod",
					x->dir, line);
			if (colon) {
				*colon = '\0';
				m->deps = colon + 1;
			}
			m->rel = line;
			kmod_name(line, m->name, sizeof(m->name));
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

int kmod_index_init(struct kmod_index *x, const char *dir, struct err *e)
{
	char path[LIMIT_PATH];
	size_t len;

	memset(x, 0, sizeof(*x));
	if (strlen(dir) >= sizeof(x->dir))
		return err_set(e, EXIT_VERIFY, "%s: path too long", dir);
	memcpy(x->dir, dir, strlen(dir) + 1);
	if (path_join(path, sizeof(path), dir, "modules.dep", e) < 0)
		return -1;
	x->have_dep = true;
	if (file_read_all(path, LIMIT_MODULES_DEP, &x->list, &len, e) < 0) {
		if (e->code != EXIT_NOTFOUND)
			return -1;
		x->have_dep = false;
		if (path_join(path, sizeof(path), dir, "modules.order", e) < 0)
			return -1;
		if (file_read_all(path, LIMIT_MODULES_DEP, &x->list, &len, e) < 0) {
			if (e->code == EXIT_NOTFOUND)
				err_set(e, EXIT_NOTFOUND,
					"%s: no modules.dep or modules.order — not a modules "
					"directory (lib/modules/VERSION)",
					dir);
			return -1;
		}
	}
	if (path_join(path, sizeof(path), dir, "modules.builtin", e) < 0)
		goto fail;
	if (file_read_all(path, LIMIT_MODULES_DEP, &x->builtin, &len, e) < 0) {
		if (e->code != EXIT_NOTFOUND)
			goto fail;
		x->builtin = NULL;
	}
	if (load_list(x, e) < 0)
		goto fail;
	return 0;
fail:
	kmod_index_fini(x);
	return -1;
}

void kmod_index_fini(struct kmod_index *x)
{
	free(x->list);
	free(x->builtin);
	free(x->mods);
	x->list = x->builtin = NULL;
	x->mods = NULL;
	x->n = 0;
}

static void normalise(const char *in, char *out, size_t size)
{
	size_t n = 0;

	for (; *in && n + 1 < size; in++)
		out[n++] = *in == '-' ? '_' : *in;
	out[n] = '\0';
}

struct kmod_mod *kmod_find(struct kmod_index *x, const char *name)
{
	char want[64];

	normalise(name, want, sizeof(want));
	for (int i = 0; i < x->n; i++)
		if (!strcmp(x->mods[i].name, want))
			return &x->mods[i];
	return NULL;
}

bool kmod_is_builtin(const struct kmod_index *x, const char *name)
{
	char want[64], got[64];

	if (!x->builtin)
		return false;
	normalise(name, want, sizeof(want));
	for (const char *line = x->builtin; *line;) {
		const char *nl = strchr(line, '\n');
		char one[LIMIT_PATH];
		size_t l = nl ? (size_t)(nl - line) : strlen(line);

		if (l && l < sizeof(one)) {
			memcpy(one, line, l);
			one[l] = '\0';
			kmod_name(one, got, sizeof(got));
			if (!strcmp(got, want))
				return true;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return false;
}

/* Dependency names of m, space-separated, into out. */
static int dep_names(struct kmod_index *x, struct kmod_mod *m, char *out, size_t size,
		     struct err *e)
{
	size_t o = 0;

	out[0] = '\0';
	if (x->have_dep) {
		const char *p = m->deps;

		while (p && *p) {
			char path[LIMIT_PATH], name[64];
			size_t l;

			while (*p == ' ')
				p++;
			l = strcspn(p, " ");
			if (!l)
				break;
			if (l >= sizeof(path))
				return err_set(e, EXIT_VERIFY, "%s: dependency path too long",
					       m->name);
			memcpy(path, p, l);
			path[l] = '\0';
			kmod_name(path, name, sizeof(name));
			if (o + strlen(name) + 2 > size)
				return err_set(e, EXIT_VERIFY, "%s: too many dependencies",
					       m->name);
			o += (size_t)snprintf(out + o, size - o, "%s%s", o ? " " : "", name);
			p += l;
		}
		return 0;
	}
	unsigned char *data;
	size_t len;
	char deps[1024];
	int rc;

	if (kmod_read(x, m->rel, &data, &len, e) < 0)
		return -1;
	rc = kmod_modinfo(data, len, "depends", deps, sizeof(deps), e);
	free(data);
	if (rc < 0)
		return err_prefix(e, "%s", m->rel);
	if (rc == 1)
		return 0;
	for (char *p = deps; *p; p++)
		if (*p == ',')
			*p = ' ';
	if (strlen(deps) >= size)
		return err_set(e, EXIT_VERIFY, "%s: too many dependencies", m->name);
	memcpy(out, deps, strlen(deps) + 1);
	return 0;
}

struct walk {
	int *order, max, n;
};

static int visit(struct kmod_index *x, struct kmod_mod *m, struct walk *w, int depth, struct err *e)
{
	char deps[2048];

	if (m->mark == 2)
		return 0;
	if (m->mark == 1 || depth > 64)
		return err_set(e, EXIT_VERIFY, "%s: module dependency cycle — check modules.dep",
			       m->name);
	m->mark = 1;
	if (dep_names(x, m, deps, sizeof(deps), e) < 0)
		return -1;
	for (char *p = deps; *p;) {
		char *sp = strchr(p, ' ');
		struct kmod_mod *d;

		if (sp)
			*sp = '\0';
		if (*p && !kmod_is_builtin(x, p)) {
			if (!(d = kmod_find(x, p)))
				return err_set(e, EXIT_NOTFOUND,
					       "%s needs module %s, which is not in %s — the "
					       "modules tree is incomplete",
					       m->name, p, x->dir);
			if (visit(x, d, w, depth + 1, e) < 0)
				return -1;
		}
		if (!sp)
			break;
		p = sp + 1;
	}
	if (w->n >= w->max)
		return err_set(e, EXIT_VERIFY, "more than %d modules needed", w->max);
	w->order[w->n++] = (int)(m - x->mods);
	m->mark = 2;
	return 0;
}

int kmod_closure(struct kmod_index *x, const char *const *want, int nwant, bool missing_ok,
		 int *order, int max, int *n, const char **skipped, int nskipped_max, int *nskipped,
		 struct err *e)
{
	struct walk w = { order, max, 0 };

	*nskipped = 0;
	for (int i = 0; i < x->n; i++)
		x->mods[i].mark = 0;
	for (int i = 0; i < nwant; i++) {
		struct kmod_mod *m;

		/* Built in wins even over a stray modules.dep line: loading the
		 * file would only fail (EEXIST) or shadow the built-in driver. */
		if (kmod_is_builtin(x, want[i]))
			continue;
		m = kmod_find(x, want[i]);
		if (!m) {
			if (!missing_ok)
				return err_set(e, EXIT_NOTFOUND,
					       "module %s: neither in %s nor built in — check the "
					       "name",
					       want[i], x->dir);
			if (*nskipped < nskipped_max)
				skipped[(*nskipped)++] = want[i];
			continue;
		}
		if (visit(x, m, &w, 0, e) < 0)
			return -1;
	}
	*n = w.n;
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

int kmod_read(const struct kmod_index *x, const char *rel, unsigned char **data, size_t *len,
	      struct err *e)
{
	static const char *const suffixes[] = { "", ".xz", ".zst", ".gz" };
	char path[LIMIT_PATH];
	char *raw = NULL;
	size_t rawlen = 0;
	int rc = -1;

	for (size_t i = 0; i < 4; i++) {
		if (path_joinf(path, sizeof(path), e, x->dir, "%s%s", rel, suffixes[i]) < 0)
			return -1;
		if (file_read_all(path, LIMIT_MODULE_SIZE, &raw, &rawlen, e) == 0)
			break;
		if (e->code != EXIT_NOTFOUND)
			return -1;
		raw = NULL;
	}
	if (!raw)
		return err_set(e, EXIT_NOTFOUND,
			       "%s/%s: module file missing — the tree is "
			       "incomplete",
			       x->dir, rel);
	if (ends_with(path, ".xz") || ends_with(path, ".zst") || ends_with(path, ".gz"))
		rc = decomp_all(raw, rawlen,
				ends_with(path, ".xz")	  ? "xz"
				: ends_with(path, ".zst") ? "zstd"
							  : "gzip",
				LIMIT_MODULE_SIZE, data, len, path, e);
	else {
		*data = (unsigned char *)raw;
		*len = rawlen;
		return 0;
	}
	free(raw);
	return rc;
}

/* The .modinfo section of an ELF module image: [*p, *end). 1 if absent. */
static int modinfo_section(const unsigned char *elf, size_t len, const char **p, const char **end,
			   struct err *e)
{
	Elf64_Ehdr h;
	Elf64_Shdr sh, str;

	if (len < sizeof(h) || memcmp(elf, ELFMAG, SELFMAG) || elf[EI_CLASS] != ELFCLASS64 ||
	    elf[EI_DATA] != ELFDATA2LSB)
		return err_set(e, EXIT_VERIFY, "not a 64-bit little-endian ELF module");
	memcpy(&h, elf, sizeof(h));
	if (h.e_shentsize != sizeof(Elf64_Shdr) || h.e_shoff > len ||
	    (uint64_t)h.e_shnum * sizeof(Elf64_Shdr) > len - h.e_shoff || h.e_shstrndx >= h.e_shnum)
		return err_set(e, EXIT_VERIFY, "ELF section table out of bounds");
	memcpy(&str, elf + h.e_shoff + (size_t)h.e_shstrndx * sizeof(Elf64_Shdr), sizeof(str));
	if (str.sh_offset > len || str.sh_size > len - str.sh_offset)
		return err_set(e, EXIT_VERIFY, "ELF section names out of bounds");
	for (size_t i = 0; i < h.e_shnum; i++) {
		memcpy(&sh, elf + h.e_shoff + i * sizeof(Elf64_Shdr), sizeof(sh));
		if (sh.sh_name >= str.sh_size)
			continue;
		const char *nm = (const char *)elf + str.sh_offset + sh.sh_name;
		size_t room = str.sh_size - sh.sh_name;
		if (strnlen(nm, room) == room || strcmp(nm, ".modinfo"))
			continue;
		if (sh.sh_offset > len || sh.sh_size > len - sh.sh_offset)
			return err_set(e, EXIT_VERIFY, ".modinfo out of bounds");
		*p = (const char *)elf + sh.sh_offset;
		*end = *p + sh.sh_size;
		return 0;
	}
	return 1;
}

int kmod_modinfo(const unsigned char *elf, size_t len, const char *key, char *out, size_t size,
		 struct err *e)
{
	const char *p, *end;
	size_t klen = strlen(key);
	int r = modinfo_section(elf, len, &p, &end, e);

	if (r)
		return r;
	while (p < end) {
		size_t l = strnlen(p, (size_t)(end - p));

		if (l > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			if (l - klen - 1 >= size)
				return err_set(e, EXIT_VERIFY, ".modinfo %s too long", key);
			memcpy(out, p + klen + 1, l - klen - 1);
			out[l - klen - 1] = '\0';
			return 0;
		}
		p += l + 1;
	}
	return 1;
}

int kmod_device_aliases(const unsigned char *elf, size_t len, char *out, size_t size, struct err *e)
{
	static const char *const buses[] = { "alias=virtio:", "alias=pci:", "alias=acpi",
					     "alias=of:", "alias=platform:" };
	const char *p, *end;
	size_t n = 0;
	int r = modinfo_section(elf, len, &p, &end, e);

	if (size)
		out[0] = '\0';
	if (r < 0)
		return -1;
	for (; r == 0 && p < end; p += strnlen(p, (size_t)(end - p)) + 1) {
		size_t l = strnlen(p, (size_t)(end - p));
		bool device = false;

		for (size_t i = 0; i < sizeof(buses) / sizeof(buses[0]) && !device; i++)
			device = !strncmp(p, buses[i], strlen(buses[i])) && l > strlen(buses[i]);
		/* A space would split the list; no device alias has one. */
		if (!device || memchr(p, ' ', l))
			continue;
		if (n + (l - 6) + 2 > size)
			return err_set(e, EXIT_VERIFY, ".modinfo: device aliases over %zu bytes",
				       size);
		n += (size_t)snprintf(out + n, size - n, "%s%.*s", n ? " " : "", (int)(l - 6),
				      p + 6);
	}
	return n ? 0 : 1;
}

int kmod_load(const char *path, const char *params, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long r;

	if (fd < 0)
		return err_errno(e, 0, "%s: cannot open", path);
	r = syscall(SYS_finit_module, fd, params ? params : "", 0);
	close(fd);
	if (r == 0)
		return 0;
	if (errno == EEXIST)
		return 1;
	return err_errno(e, EXIT_SYSTEM, "%s: finit_module", path);
}
