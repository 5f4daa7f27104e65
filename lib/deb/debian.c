/* debian.c — see debian.h. */
#include "deb/debian.h"
#include "deb/deb.h"
#include "deb/pgp.h"
#include "buf.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "http.h"
#include "log.h"
#include "catalog/extract.h"
#include "path.h"
#include "proc.h"
#include "progress.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct debian_pkg {
	char *name, *version, *arch, *url, *depends, *predepends, *provides;
	char sha256[DIGEST_HEX_LEN + 1];
	uint64_t size;
	bool required, essential;
	bool chosen, visiting, placed, in_base; /* resolution and ordering */
	size_t order;				/* install order (dependencies first) */
};

struct provider {
	const char *name; /* the virtual name */
	size_t pkg;	  /* index into all->v */
};

struct all {
	struct debian_pkg *v;
	size_t n, cap;
	struct provider *pv;
	size_t npv, pvcap;
	const char *mirror; /* of the index being read */
	const char *arch;
};

static void all_free(struct all *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		struct debian_pkg *p = &a->v[i];

		free(p->name), free(p->version), free(p->arch), free(p->url);
		free(p->depends), free(p->predepends), free(p->provides);
	}
	for (size_t i = 0; i < a->npv; i++)
		free((char *)a->pv[i].name);
	free(a->v);
	free(a->pv);
	free(a);
}

void debian_plan_fini(struct debian_plan *p)
{
	free(p->pkgs);
	all_free(p->all);
	free(p->list);
	memset(p, 0, sizeof(*p));
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static int keep_stanza(void *ud, const char *const *v, unsigned long line, struct err *e)
{
	struct all *a = ud;
	struct debian_pkg *p;
	struct deb_pkg d;
	size_t ml = strlen(a->mirror);

	if (!v[DEB_F_PACKAGE] || !v[DEB_F_ARCH] ||
	    (strcmp(v[DEB_F_ARCH], a->arch) && strcmp(v[DEB_F_ARCH], "all")))
		return 0;
	if (deb_pkg_fill(&d, v, e) < 0)
		return -1;
	if (a->n >= LIMIT_DEB_PACKAGES)
		return err_set(e, EXIT_VERIFY, "more than %d packages in the indexes",
			       LIMIT_DEB_PACKAGES);
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 4096;
		struct debian_pkg *nv = realloc(a->v, cap * sizeof(*nv));

		if (!nv)
			return err_set(e, EXIT_SYSTEM, "out of memory");
		a->v = nv;
		a->cap = cap;
	}
	p = &a->v[a->n];
	memset(p, 0, sizeof(*p));
	p->name = strdup(d.package);
	p->version = strdup(d.version);
	p->arch = strdup(d.arch);
	p->depends = dup_or_empty(v[DEB_F_DEPENDS]);
	p->predepends = dup_or_empty(v[DEB_F_PRE_DEPENDS]);
	p->provides = dup_or_empty(v[DEB_F_PROVIDES]);
	p->url = malloc(ml + strlen(d.filename) + 2);
	a->n++; /* counted now so all_free frees what was allocated */
	if (!p->name || !p->version || !p->arch || !p->depends || !p->predepends || !p->provides ||
	    !p->url)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	snprintf(p->url, ml + strlen(d.filename) + 2, "%s/%s", a->mirror, d.filename);
	memcpy(p->sha256, d.sha256, sizeof(p->sha256));
	p->size = d.size;
	p->required = v[DEB_F_PRIORITY] && !strcmp(v[DEB_F_PRIORITY], "required");
	p->essential = v[DEB_F_ESSENTIAL] && !strcmp(v[DEB_F_ESSENTIAL], "yes");
	return 0;
}

/* By name, then newest version first. */
static int by_name_version(const void *x, const void *y)
{
	const struct debian_pkg *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c ? c : deb_version_cmp(b->version, a->version);
}

static int by_provider(const void *x, const void *y)
{
	const struct provider *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c ? c : (a->pkg > b->pkg) - (a->pkg < b->pkg);
}

static struct debian_pkg *find(struct all *a, const char *name)
{
	size_t lo = 0, hi = a->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(a->v[mid].name, name);

		if (!c)
			return &a->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The first provider of a virtual name, preferring one already chosen. */
static struct debian_pkg *find_provider(struct all *a, const char *name)
{
	size_t lo = 0, hi = a->npv, first;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(a->pv[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	for (size_t i = first; i < a->npv && !strcmp(a->pv[i].name, name); i++)
		if (a->v[a->pv[i].pkg].chosen)
			return &a->v[a->pv[i].pkg];
	return first < a->npv && !strcmp(a->pv[first].name, name) ? &a->v[a->pv[first].pkg] : NULL;
}

/* Copies the package name of one alternative ("libc6 (>= 2.34)",
 * "python3:any", "foo [amd64] <!nocheck>") into out. */
static void alt_name(const char *s, size_t len, char *out, size_t size)
{
	size_t i = 0;

	while (len && (*s == ' ' || *s == '\t' || *s == '\n'))
		s++, len--;
	while (i < len && i + 1 < size && !strchr(" \t\n(:[<", s[i])) {
		out[i] = s[i];
		i++;
	}
	out[i] = '\0';
}

/* Splits a dependency field: calls fn for each comma group with the
 * group's text. */
typedef int (*group_fn)(struct all *a, struct debian_pkg *who, const char *g, size_t len, void *ud,
			struct err *e);

static int each_group(struct all *a, struct debian_pkg *who, const char *field, group_fn fn,
		      void *ud, struct err *e)
{
	const char *p = field;

	while (*p) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);

		if (fn(a, who, p, len, ud, e) < 0)
			return -1;
		p += len + (c ? 1 : 0);
	}
	return 0;
}

/* The package one group resolves to: an alternative already chosen (real
 * or through Provides), else the first real one, else the first provided
 * one; NULL when nothing provides any. */
static struct debian_pkg *pick(struct all *a, const char *g, size_t len)
{
	struct debian_pkg *first = NULL, *virt = NULL, *p;
	char name[LIMIT_NAME + 1];
	const char *end = g + len;

	while (g < end) {
		const char *bar = memchr(g, '|', (size_t)(end - g));
		size_t l = (size_t)((bar ? bar : end) - g);

		alt_name(g, l, name, sizeof(name));
		if (*name) {
			p = find(a, name);
			if (p && p->chosen)
				return p;
			if (p && !first)
				first = p;
			p = find_provider(a, name);
			if (p && p->chosen)
				return p;
			if (p && !virt)
				virt = p;
		}
		g += l + (bar ? 1 : 0);
	}
	return first ? first : virt;
}

struct queue {
	struct debian_pkg **v;
	size_t n, cap;
};

static int choose(struct queue *q, struct debian_pkg *p, struct err *e)
{
	if (p->chosen)
		return 0;
	if (q->n >= LIMIT_DEB_SELECTED)
		return err_set(e, EXIT_VERIFY, "more than %d packages selected",
			       LIMIT_DEB_SELECTED);
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		struct debian_pkg **nv = realloc(q->v, cap * sizeof(*nv));

		if (!nv)
			return err_set(e, EXIT_SYSTEM, "out of memory");
		q->v = nv;
		q->cap = cap;
	}
	p->chosen = true;
	q->v[q->n++] = p;
	return 0;
}

static int need_group(struct all *a, struct debian_pkg *who, const char *g, size_t len, void *ud,
		      struct err *e)
{
	struct debian_pkg *p = pick(a, g, len);

	if (!p) {
		char name[LIMIT_NAME + 1];

		alt_name(g, len, name, sizeof(name));
		if (!*name)
			return 0;
		return err_set(e, EXIT_NOTFOUND,
			       "%s depends on %.*s, which no source provides — add the suite or "
			       "component that has it",
			       who->name, (int)(len > 200 ? 200 : len), g);
	}
	return choose(ud, p, e);
}

static int add_provides(struct all *a, struct debian_pkg *who, const char *g, size_t len, void *ud,
			struct err *e)
{
	char name[LIMIT_NAME + 1];

	alt_name(g, len, name, sizeof(name));
	if (!*name)
		return 0;
	if (a->npv == a->pvcap) {
		size_t cap = a->pvcap ? a->pvcap * 2 : 4096;
		struct provider *nv = realloc(a->pv, cap * sizeof(*nv));

		if (!nv)
			return err_set(e, EXIT_SYSTEM, "out of memory");
		a->pv = nv;
		a->pvcap = cap;
	}
	/* The name is kept inside the Provides text: cut it there. */
	a->pv[a->npv].name = strndup(name, sizeof(name));
	if (!a->pv[a->npv].name)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	a->pv[a->npv++].pkg = (size_t)(who - a->v);
	return 0;
}

/* Dependencies first (depth-first post-order), cycles broken where met. */
static void place(struct all *a, struct debian_pkg *p, struct debian_pkg **out, size_t *n);

static int place_group(struct all *a, struct debian_pkg *who, const char *g, size_t len, void *ud,
		       struct err *e)
{
	struct debian_pkg *p = pick(a, g, len);
	void **ctx = ud;

	if (p)
		place(a, p, ctx[0], ctx[1]);
	return 0;
}

static void place(struct all *a, struct debian_pkg *p, struct debian_pkg **out, size_t *n)
{
	void *ctx[2] = { out, n };
	struct err e;

	if (p->placed || p->visiting)
		return;
	p->visiting = true;
	err_init(&e);
	each_group(a, p, p->predepends, place_group, ctx, &e);
	each_group(a, p, p->depends, place_group, ctx, &e);
	p->visiting = false;
	p->placed = true;
	p->order = (*n)++;
	out[p->order] = p;
}

static int64_t release_date(const char *text)
{
	const char *d = strstr(text, "\nDate: ");
	struct tm tm = { 0 };

	if (!d && !strncmp(text, "Date: ", 6))
		d = text - 1;
	if (!d || !strptime(d + 7, "%a, %d %b %Y %H:%M:%S", &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

static int read_indexes(const struct debian_spec *s, struct all *a, int64_t *epoch, struct err *e)
{
	struct pgp_keyring kr;
	int rc = 0;

	if (deb_keyring_load(&kr, s->keyring, e) < 0) {
		pgp_keyring_fini(&kr);
		return -1;
	}
	for (size_t i = 0; i < s->nsrc && rc == 0; i++) {
		struct deb_release r;
		struct err e2;

		err_init(&e2);
		log_info("%s %s: reading the signed index", s->src[i].mirror, s->src[i].suite);
		if (deb_release_fetch(s->src[i].mirror, s->src[i].suite, &kr, s->ca_file, &r, &e2) <
		    0) {
			if (i > 0 && e2.code == EXIT_NOTFOUND) {
				log_info("%s %s: no such suite there — passed over",
					 s->src[i].mirror, s->src[i].suite);
				continue;
			}
			*e = e2;
			rc = -1;
			break;
		}
		log_debug("%s: signed by %s", r.base, r.signer);
		if (release_date(r.text) > *epoch)
			*epoch = release_date(r.text);
		a->mirror = s->src[i].mirror;
		for (size_t c = 0; c < s->ncomponents && rc == 0; c++) {
			struct deb_stanza st;

			deb_stanza_init(&st, deb_fields, DEB_F_COUNT, keep_stanza, a);
			rc = deb_packages_fetch(&r, s->components[c], s->arch, s->ca_file, &st, e);
			deb_stanza_fini(&st);
		}
		deb_release_fini(&r);
	}
	pgp_keyring_fini(&kr);
	return rc;
}

int debian_resolve(const struct debian_spec *s, struct debian_plan *p, struct err *e)
{
	struct all *a = calloc(1, sizeof(*a));
	struct queue q = { 0 };
	struct debian_pkg **order = NULL;
	struct sha256 h;
	size_t n = 0, w = 0, listlen = 0, cap;
	bool minbase = !strcmp(s->variant, "minbase");
	int rc = -1;

	memset(p, 0, sizeof(*p));
	if (!a)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	p->all = a;
	a->arch = s->arch;
	if (strcmp(s->variant, "minbase") && strcmp(s->variant, "essential"))
		return err_set(e, EXIT_USAGE, "variant '%s': want minbase or essential",
			       s->variant);
	if (read_indexes(s, a, &p->epoch, e) < 0)
		return -1;
	/* The newest version of each name wins, whatever source it is in. */
	qsort(a->v, a->n, sizeof(*a->v), by_name_version);
	for (size_t i = 0; i < a->n; i++) {
		if (w && !strcmp(a->v[w - 1].name, a->v[i].name)) {
			struct debian_pkg *x = &a->v[i];

			free(x->name), free(x->version), free(x->arch), free(x->url);
			free(x->depends), free(x->predepends), free(x->provides);
			continue;
		}
		a->v[w++] = a->v[i];
	}
	a->n = w;
	for (size_t i = 0; i < a->n; i++)
		if (each_group(a, &a->v[i], a->v[i].provides, add_provides, NULL, e) < 0)
			goto out;
	qsort(a->pv, a->npv, sizeof(*a->pv), by_provider);
	/* The base, then what was asked for, then the closure. */
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].essential || (minbase && a->v[i].required))
			if (choose(&q, &a->v[i], e) < 0)
				goto out;
	if (minbase) {
		struct debian_pkg *apt = find(a, "apt");

		if (apt && choose(&q, apt, e) < 0)
			goto out;
	}
	if (!q.n) {
		err_set(e, EXIT_NOTFOUND,
			"no Essential package in the indexes of %s %s for %s — is the mirror a "
			"Debian archive?",
			s->src[0].mirror, s->src[0].suite, s->arch);
		goto out;
	}
	for (size_t i = 0; i < s->nextra; i++) {
		struct debian_pkg *x = find(a, s->extra[i]);

		if (!x)
			x = find_provider(a, s->extra[i]);
		if (!x) {
			err_set(e, EXIT_NOTFOUND,
				"package %s is in none of the indexes — check its name and the "
				"components",
				s->extra[i]);
			goto out;
		}
		if (choose(&q, x, e) < 0)
			goto out;
	}
	for (size_t i = 0; i < q.n; i++) {
		struct debian_pkg *x = q.v[i];

		if (each_group(a, x, x->predepends, need_group, &q, e) < 0 ||
		    each_group(a, x, x->depends, need_group, &q, e) < 0)
			goto out;
	}
	/* Install order: the Essential closure first (it is what the second
	 * stage runs on), each part dependencies first. */
	order = calloc(q.n, sizeof(*order));
	if (!order) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].chosen && a->v[i].essential)
			place(a, &a->v[i], order, &n);
	for (size_t i = 0; i < n; i++)
		order[i]->in_base = true;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].chosen)
			place(a, &a->v[i], order, &n);
	p->pkgs = calloc(q.n, sizeof(*p->pkgs));
	if (!p->pkgs) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < a->n; i++) {
		struct debian_pkg *x = &a->v[i];

		if (!x->chosen)
			continue;
		p->pkgs[p->n++] = *x;
		p->bytes += x->size;
		listlen += strlen(x->name) + strlen(x->version) + strlen(x->arch) + 68;
	}
	p->list = malloc(listlen + 1);
	if (!p->list) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	cap = listlen + 1;
	listlen = 0;
	for (size_t i = 0; i < p->n; i++)
		listlen += (size_t)snprintf(p->list + listlen, cap - listlen, "%s %s %s %s\n",
					    p->pkgs[i].name, p->pkgs[i].version, p->pkgs[i].arch,
					    p->pkgs[i].sha256);
	sha256_init(&h);
	sha256_update(&h, p->list, listlen);
	sha256_hex(&h, p->digest);
	rc = 0;
out:
	free(order);
	free(q.v);
	return rc;
}

/* ---- downloads ------------------------------------------------------- */

struct dl {
	const struct debian_plan *p;
	const struct debian_spec *s;
	pthread_mutex_t mu;
	size_t next;
	bool failed;
	struct err err;
	struct progress prog;
	uint64_t fetched; /* bytes that came over the network */
};

static void dl_progress(struct dl *d, uint64_t n)
{
	pthread_mutex_lock(&d->mu);
	progress_add(&d->prog, n);
	pthread_mutex_unlock(&d->mu);
}

static int cache_path(const struct debian_spec *s, const struct debian_pkg *x, char *out,
		      size_t size, struct err *e)
{
	char name[DIGEST_HEX_LEN + 8];

	snprintf(name, sizeof(name), "%s.deb", x->sha256);
	return path_join(out, size, s->cache, name, e);
}

/* One .deb into the cache: reused when its content still has the digest,
 * else downloaded to a temporary, counted and hashed, renamed in only when
 * the SHA256 and Size of the verified index match. */
static int fetch_one(struct dl *d, const struct debian_pkg *x, struct err *e)
{
	char path[LIMIT_PATH], tmp[LIMIT_PATH], hex[DIGEST_HEX_LEN + 1];
	struct http_req req = { .url = x->url, .ca_file = d->s->ca_file };
	struct http_stream *hs;
	struct sha256 h;
	uint64_t got = 0;
	char *buf;
	ssize_t n;
	int fd, rc = -1;

	if (cache_path(d->s, x, path, sizeof(path), e) < 0)
		return -1;
	if (access(path, F_OK) == 0) {
		if (sha256_file(path, hex, e) == 0 && !strcmp(hex, x->sha256)) {
			dl_progress(d, x->size);
			return 0;
		}
		log_info("%s: cached %s was damaged — fetching it again", x->name, path);
		unlink(path);
	}
	if (path_join(tmp, sizeof(tmp), d->s->cache, ".download-XXXXXX", e) < 0)
		return -1;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, 0, "%s: cannot create", tmp);
	buf = malloc(128 * 1024);
	hs = buf ? http_stream_open(&req, NULL, e) : NULL;
	if (!buf && !e->code)
		err_set(e, EXIT_SYSTEM, "out of memory");
	sha256_init(&h);
	while (hs && (n = http_stream_read(hs, buf, 128 * 1024, e)) > 0) {
		got += (uint64_t)n;
		if (got > x->size) {
			err_set(e, EXIT_VERIFY,
				"%s: larger than the %llu bytes its signed index lists — refusing "
				"it",
				x->url, (unsigned long long)x->size);
			goto out;
		}
		sha256_update(&h, buf, (size_t)n);
		if (file_write_all(fd, buf, (size_t)n, tmp, e) < 0)
			goto out;
		dl_progress(d, (uint64_t)n);
	}
	if (!hs || n < 0)
		goto out;
	sha256_hex(&h, hex);
	if (got != x->size || strcmp(hex, x->sha256)) {
		err_set(e, EXIT_VERIFY,
			"%s: sha256:%.12s… (%llu bytes), expected sha256:%.12s… (%llu bytes) from "
			"the signed index — refusing it",
			x->url, hex, (unsigned long long)got, x->sha256,
			(unsigned long long)x->size);
		goto out;
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		err_errno(e, EXIT_SYSTEM, "%s: cannot install", path);
		goto out;
	}
	pthread_mutex_lock(&d->mu);
	d->fetched += got;
	pthread_mutex_unlock(&d->mu);
	rc = 0;
out:
	if (rc < 0)
		unlink(tmp);
	close(fd);
	http_stream_free(hs);
	free(buf);
	return rc;
}

static void *dl_worker(void *ud)
{
	struct dl *d = ud;

	for (;;) {
		const struct debian_pkg *x;
		struct err e;

		pthread_mutex_lock(&d->mu);
		if (d->failed || d->next >= d->p->n) {
			pthread_mutex_unlock(&d->mu);
			return NULL;
		}
		x = &d->p->pkgs[d->next++];
		pthread_mutex_unlock(&d->mu);
		err_init(&e);
		if (fetch_one(d, x, &e) < 0) {
			pthread_mutex_lock(&d->mu);
			if (!d->failed)
				d->err = e;
			d->failed = true;
			pthread_mutex_unlock(&d->mu);
		}
	}
}

int debian_download(const struct debian_spec *s, const struct debian_plan *p, struct err *e)
{
	pthread_t th[16];
	int jobs = s->jobs > 0 ? s->jobs : 4, started = 0;
	struct dl *d = calloc(1, sizeof(*d));
	char sz[32];
	int rc = 0;

	if (!d)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	if (jobs > 16)
		jobs = 16;
	if (mkdir(s->cache, 0755) < 0 && errno != EEXIST) {
		free(d);
		return err_errno(e, EXIT_SYSTEM, "%s: cannot create", s->cache);
	}
	d->p = p;
	d->s = s;
	err_init(&d->err);
	pthread_mutex_init(&d->mu, NULL);
	format_size(p->bytes, sz, sizeof(sz));
	log_info("%zu packages, %s", p->n, sz);
	progress_init(&d->prog, "packages", p->bytes);
	for (int i = 0; i < jobs; i++)
		if (pthread_create(&th[i], NULL, dl_worker, d) == 0)
			started++;
	if (!started)
		dl_worker(d);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	progress_fini(&d->prog);
	if (d->failed) {
		*e = d->err;
		rc = -1;
	} else {
		format_size(d->fetched, sz, sizeof(sz));
		log_info("downloaded %s (the rest from the cache)", sz);
	}
	pthread_mutex_destroy(&d->mu);
	free(d);
	return rc;
}

/* ---- first stage: the Essential closure unpacked ----------------------- */

struct member {
	struct archive *ar;
	char buf[64 * 1024];
};

static ssize_t member_read(void *ud, const void **out)
{
	struct member *m = ud;
	la_ssize_t n = archive_read_data(m->ar, m->buf, sizeof(m->buf));

	*out = m->buf;
	return n < 0 ? -1 : n;
}

struct host_src {
	debian_read_fn read;
	void *ud;
};

static la_ssize_t host_cb(struct archive *a, void *ud, const void **out)
{
	struct host_src *h = ud;
	ssize_t n = h->read(h->ud, out);

	if (n < 0)
		archive_set_error(a, EIO, "reading the data.tar member failed");
	return n;
}

/* A data.tar stream into the host tree (extract.h, rootfs: confined,
 * owners and modes kept): debian_build's sink. */
static int host_sink(void *ud, debian_read_fn read, void *rud, const char *what, struct err *e)
{
	struct extract *x = ud;
	struct host_src h = { read, rud };
	struct archive *t = archive_read_new();
	struct archive_entry *ae;
	int r, rc = -1;

	if (!t)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	x->what = what;
	archive_read_support_filter_gzip(t);
	archive_read_support_filter_zstd(t);
	archive_read_support_filter_xz(t);
	archive_read_support_format_tar(t);
	if (archive_read_open(t, &h, NULL, host_cb, NULL) != ARCHIVE_OK)
		goto bad;
	while ((r = archive_read_next_header(t, &ae)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		int x_rc = extract_entry(x, t, ae, e);

		if (x_rc == EXTRACT_ARCHIVE_FAILED)
			goto bad;
		if (x_rc < 0)
			goto out;
	}
	if (r == ARCHIVE_EOF) {
		rc = 0;
		goto out;
	}
bad:
	err_set(e, EXIT_VERIFY, "%s: data.tar: %s", what,
		archive_error_string(t) ? archive_error_string(t) : "not a tar archive");
out:
	archive_read_free(t);
	return rc;
}

/* The data.tar member of a verified .deb, handed to sink as a stream. */
static int unpack_deb(const char *path, const char *what, debian_sink_fn sink, void *ud,
		      struct err *e)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	struct member *m = calloc(1, sizeof(*m));
	bool data = false;
	int r, rc = -1;

	if (!a || !m) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	m->ar = a;
	archive_read_support_format_ar(a);
	if (archive_read_open_filename(a, path, 64 * 1024) != ARCHIVE_OK)
		goto bad;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ae);

		if (!name || strncmp(name, "data.tar", 8))
			continue;
		if (data) {
			err_set(e, EXIT_VERIFY, "%s: two data.tar members", what);
			goto out;
		}
		data = true;
		if (sink(ud, member_read, m, what, e) < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF)
		goto bad;
	if (!data) {
		err_set(e, EXIT_VERIFY, "%s: no data.tar member — not a Debian package", what);
		goto out;
	}
	rc = 0;
	goto out;
bad:
	err_set(e, EXIT_VERIFY, "%s: %s", what,
		archive_error_string(a) ? archive_error_string(a) : "not an ar archive");
out:
	if (a)
		archive_read_free(a);
	free(m);
	return rc;
}

int debian_unpack_base(const struct debian_spec *s, const struct debian_plan *p,
		       debian_sink_fn sink, void *ud, struct err *e)
{
	char path[LIMIT_PATH];
	struct progress prog;
	size_t nbase = 0;
	int rc = 0;

	for (size_t i = 0; i < p->n; i++)
		nbase += p->pkgs[i].in_base;
	log_info("first stage: unpacking %zu Essential packages", nbase);
	progress_init(&prog, "unpacking", nbase);
	for (size_t i = 0; i < p->n && rc == 0; i++) {
		if (!p->pkgs[i].in_base)
			continue;
		if (cache_path(s, &p->pkgs[i], path, sizeof(path), e) < 0 ||
		    unpack_deb(path, p->pkgs[i].name, sink, ud, e) < 0)
			rc = -1;
		progress_add(&prog, 1);
	}
	progress_fini(&prog);
	return rc;
}

int debian_each_deb(const struct debian_spec *s, const struct debian_plan *p, debian_deb_fn fn,
		    void *ud, struct err *e)
{
	char path[LIMIT_PATH];

	for (size_t i = 0; i < p->n; i++)
		if (cache_path(s, &p->pkgs[i], path, sizeof(path), e) < 0 ||
		    fn(ud, path, p->pkgs[i].sha256, e) < 0)
			return -1;
	return 0;
}

/* Moves everything in src into dst; where both hold a directory of the
 * same name, recursively. A file in both keeps dst's (the /usr one). */
static int merge_dir(int src, int dst, const char *what, int depth, struct err *e)
{
	DIR *d;
	struct dirent *de;
	int rc = 0, fd = dup(src);

	if (depth > 32)
		return err_set(e, EXIT_VERIFY, "%s: directories nested too deep", what);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return err_errno(e, EXIT_SYSTEM, "%s: cannot read", what);
	}
	while (rc == 0 && (de = readdir(d))) {
		struct stat a, b;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dst, de->d_name, &b, AT_SYMLINK_NOFOLLOW) < 0) {
			if (renameat(src, de->d_name, dst, de->d_name) < 0)
				rc = err_errno(e, EXIT_SYSTEM, "%s/%s: cannot move into /usr", what,
					       de->d_name);
			continue;
		}
		if (fstatat(src, de->d_name, &a, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = err_errno(e, EXIT_SYSTEM, "%s/%s", what, de->d_name);
		} else if (S_ISDIR(a.st_mode) && S_ISDIR(b.st_mode)) {
			int s2 = openat(src, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
			int d2 = openat(dst, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);

			rc = s2 < 0 || d2 < 0 ? err_errno(e, EXIT_SYSTEM, "%s/%s", what, de->d_name)
					      : merge_dir(s2, d2, what, depth + 1, e);
			if (s2 >= 0)
				close(s2);
			if (d2 >= 0)
				close(d2);
			if (rc == 0 && unlinkat(src, de->d_name, AT_REMOVEDIR) < 0)
				rc = err_errno(e, EXIT_SYSTEM, "%s/%s", what, de->d_name);
		} else if (unlinkat(src, de->d_name, S_ISDIR(a.st_mode) ? AT_REMOVEDIR : 0) < 0) {
			rc = err_errno(e, EXIT_SYSTEM, "%s/%s", what, de->d_name);
		}
	}
	closedir(d);
	return rc;
}

/* bookworm's usr-is-merged refuses a root whose /bin, /sbin, /lib (and
 * /lib64) are not symlinks into /usr: what the first stage unpacked there
 * moves into /usr, as debootstrap's merged-usr does before it unpacks. */
static int merge_usr(int root, struct err *e)
{
	static const char *const dirs[] = { "bin", "sbin", "lib", "lib64" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char target[16];
		struct stat st;
		int src, dst;

		snprintf(target, sizeof(target), "usr/%s", dirs[i]);
		if (fstatat(root, dirs[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (i == 3)
				continue; /* no /lib64 on this architecture */
			if (mkdirat(root, target, 0755) < 0 && errno != EEXIST)
				return err_errno(e, EXIT_SYSTEM, "/%s: cannot create", target);
			if (symlinkat(target, root, dirs[i]) < 0)
				return err_errno(e, EXIT_SYSTEM, "/%s: cannot link", dirs[i]);
			continue;
		}
		if (S_ISLNK(st.st_mode))
			continue;
		if (!S_ISDIR(st.st_mode))
			return err_set(e, EXIT_VERIFY, "/%s is neither a directory nor a link",
				       dirs[i]);
		if (mkdirat(root, target, 0755) < 0 && errno != EEXIST)
			return err_errno(e, EXIT_SYSTEM, "/%s: cannot create", target);
		src = openat(root, dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		dst = openat(root, target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		if (src < 0 || dst < 0) {
			if (src >= 0)
				close(src);
			if (dst >= 0)
				close(dst);
			return err_errno(e, EXIT_SYSTEM, "/%s", dirs[i]);
		}
		if (merge_dir(src, dst, dirs[i], 0, e) < 0) {
			close(src);
			close(dst);
			return -1;
		}
		close(src);
		close(dst);
		if (unlinkat(root, dirs[i], AT_REMOVEDIR) < 0 ||
		    symlinkat(target, root, dirs[i]) < 0)
			return err_errno(e, EXIT_SYSTEM, "/%s: cannot replace with a link",
					 dirs[i]);
	}
	return 0;
}

/* ---- second stage: dpkg in a chroot ----------------------------------- */

struct chroot_setup {
	const char *tree, *cache;
	char proc[LIMIT_PATH], dev[LIMIT_PATH], arch[LIMIT_PATH];
};

/* In the child, before the exec: its own mount namespace, then the chroot. */
static const char *enter_chroot(void *arg)
{
	const struct chroot_setup *c = arg;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("proc", c->proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
	    mount("/dev", c->dev, NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    mount(c->cache, c->arch, NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, c->arch, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		return "the chroot's mounts (needs root)";
	if (chroot(c->tree) < 0 || chdir("/") < 0)
		return "the chroot";
	return NULL;
}

/* Runs argv inside tree (chroot) with /proc, /dev and the .deb cache
 * (read-only, at /run/banger-debs) mounted in a mount namespace of
 * its own, so nothing is left mounted when it ends. Output goes to log. */
static int chroot_run(const char *tree, const char *cache, const char *log, char *const *argv,
		      int64_t epoch, struct err *e)
{
	char sde[48];
	const char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
			       "DEBIAN_FRONTEND=noninteractive",
			       "DEBCONF_NONINTERACTIVE_SEEN=true",
			       "LC_ALL=C.UTF-8",
			       "HOME=/root",
			       sde,
			       NULL };
	struct chroot_setup c = { .tree = tree, .cache = cache };
	struct proc_io io = { .env = envp, .setup = enter_chroot, .setup_arg = &c };
	int status;

	snprintf(sde, sizeof(sde), "SOURCE_DATE_EPOCH=%lld", (long long)epoch);
	if (path_join(c.proc, sizeof(c.proc), tree, "proc", e) < 0 ||
	    path_join(c.dev, sizeof(c.dev), tree, "dev", e) < 0 ||
	    path_join(c.arch, sizeof(c.arch), tree, "run/banger-debs", e) < 0)
		return -1;
	io.log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (io.log_fd < 0)
		return err_errno(e, 0, "%s: cannot create", log);
	status = proc_run((const char *const *)argv, &io, e);
	close(io.log_fd);
	if (status <= 0)
		return status;
	return debian_stage2_failed(log, status, argv[1] ? argv[1] : argv[0], e);
}

int debian_stage2_failed(const char *log, int status, const char *step, struct err *e)
{
	char *text = NULL, *last;
	size_t len = 0;
	struct err ignore;

	err_init(&ignore);
	file_read_all(log, 16 << 20, &text, &len, &ignore);
	while (text && len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	/* dpkg's own error says more than its closing list of packages. */
	last = text ? strstr(text, "dpkg: error") : NULL;
	if (last && strchr(last, '\n'))
		*strchr(last, '\n') = '\0';
	if (!last) {
		last = text ? strrchr(text, '\n') : NULL;
		last = last ? last + 1 : text;
	}
	/* 128+N: killed by signal N, and so the exit code too. */
	err_set(e, status > EXIT_SIGNAL ? status : EXIT_SYSTEM,
		"second stage: %s failed (exit %d): %s — the whole output is in %s", step, status,
		last && *last ? last : "no message", log);
	free(text);
	return -1;
}

static int put(int root, const char *rel, const char *text, mode_t mode, struct err *e)
{
	int fd = openat(root, rel, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	int rc;

	if (fd < 0)
		return err_errno(e, EXIT_SYSTEM, "/%s: cannot create", rel);
	rc = file_write_all(fd, text, strlen(text), rel, e);
	if (close(fd) < 0 && rc == 0)
		rc = err_errno(e, EXIT_SYSTEM, "/%s: cannot write", rel);
	return rc;
}

static int mkdirs(int root, const char *rel, struct err *e)
{
	char p[LIMIT_PATH];

	snprintf(p, sizeof(p), "%s", rel);
	for (char *s = p;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;

			*s = '\0';
			if (mkdirat(root, p, 0755) < 0 && errno != EEXIST)
				return err_errno(e, EXIT_SYSTEM, "/%s: cannot create", p);
			*s = c;
			if (!c)
				return 0;
		}
	}
}

/* The base (Essential closure) or the other packages, dependencies first
 * as resolution placed them, into v (p->n + 1 slots). Returns how many. */
static size_t install_order(const struct debian_plan *p, bool base, const struct debian_pkg **v)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		if (p->pkgs[i].in_base == base)
			v[n++] = &p->pkgs[i];
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1]->order > v[j]->order; j--) {
			const struct debian_pkg *t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n;
}

/* dpkg over a list of cached .debs (in install order). */
static int dpkg_install(const char *tree, const struct debian_spec *s, const struct debian_plan *p,
			bool base, const char *log, struct err *e)
{
	char **argv = calloc(p->n + 8, sizeof(*argv));
	size_t argc = 0, n = 0;
	const struct debian_pkg **v = calloc(p->n + 1, sizeof(*v));
	int rc = -1;

	if (!argv || !v) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	n = install_order(p, base, v);
	argv[argc++] = "/usr/bin/dpkg";
	argv[argc++] = "--install";
	argv[argc++] = "--force-depends";
	argv[argc++] = "--force-confnew";
	for (size_t i = 0; i < n; i++) {
		argv[argc] = malloc(64 + DIGEST_HEX_LEN);
		if (!argv[argc]) {
			err_set(e, EXIT_SYSTEM, "out of memory");
			goto out;
		}
		snprintf(argv[argc++], 64 + DIGEST_HEX_LEN, "/run/banger-debs/%s.deb",
			 v[i]->sha256);
	}
	argv[argc] = NULL;
	log_info("second stage: dpkg --install %zu %s packages", n, base ? "Essential" : "more");
	rc = n ? chroot_run(tree, s->cache, log, argv, p->epoch, e) : 0;
out:
	for (size_t i = 4; argv && i < argc; i++)
		free(argv[i]);
	free(argv);
	free(v);
	return rc;
}

/* Removes what must differ between machines (SSH host keys, machine-id,
 * random seed) or between builds (logs, backups, caches). */
static const char *const scrub_files[] = {
	"etc/machine-id",
	"var/lib/systemd/random-seed",
	"var/log/dpkg.log",
	"var/log/alternatives.log",
	"var/log/bootstrap.log",
	"var/log/apt/history.log",
	"var/log/apt/term.log",
	"var/log/apt/eipp.log.xz",
	"var/cache/debconf/config.dat-old",
	"var/cache/debconf/templates.dat-old",
	"var/cache/debconf/passwords.dat-old",
	"var/lib/dpkg/status-old",
	"var/lib/dpkg/available-old",
	"var/lib/dpkg/diversions-old",
	"var/lib/dpkg/statoverride-old",
	"var/cache/ldconfig/aux-cache",
	"var/cache/apt/pkgcache.bin",
	"var/cache/apt/srcpkgcache.bin",
	"usr/sbin/policy-rc.d",
	"etc/shadow-",
	"etc/gshadow-",
	"etc/passwd-",
	"etc/group-",
	"etc/subuid-",
	"etc/subgid-",
};

static void scrub(int root)
{
	struct stat st;
	DIR *d;
	int fd;

	for (size_t i = 0; i < sizeof(scrub_files) / sizeof(scrub_files[0]); i++)
		unlinkat(root, scrub_files[i], 0);
	/* dbus keeps a link to /etc/machine-id: only a real file is a copy. */
	if (fstatat(root, "var/lib/dbus/machine-id", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode))
		unlinkat(root, "var/lib/dbus/machine-id", 0);
	fd = openat(root, "etc/ssh", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && (d = fdopendir(fd))) {
		struct dirent *de;

		while ((de = readdir(d)))
			if (!strncmp(de->d_name, "ssh_host_", 9))
				unlinkat(fd, de->d_name, 0);
		closedir(d);
	} else if (fd >= 0) {
		close(fd);
	}
}

/* Every mtime after the epoch comes down to it, so the same packages give
 * the same tree (what the second stage wrote bears the build's time). */
static int clamp_times(int dirfd, int64_t epoch, int depth, struct err *e)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(dirfd), rc = 0;

	if (depth > 256)
		return err_set(e, EXIT_VERIFY, "directories nested too deep");
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return err_errno(e, EXIT_SYSTEM, "cannot read a directory of the image");
	}
	while (rc == 0 && (de = readdir(d))) {
		struct timespec ts[2] = { { .tv_sec = epoch }, { .tv_sec = epoch } };
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);

			if (sub >= 0) {
				rc = clamp_times(sub, epoch, depth + 1, e);
				close(sub);
			}
		}
		/* atime follows mtime: what the build read must not show. */
		if (st.st_mtime < epoch)
			ts[0].tv_sec = ts[1].tv_sec = st.st_mtime;
		if (st.st_mtime > epoch || st.st_atime != ts[1].tv_sec || st.st_mtim.tv_nsec ||
		    st.st_atim.tv_nsec)
			utimensat(dirfd, de->d_name, ts, AT_SYMLINK_NOFOLLOW);
	}
	closedir(d);
	return rc;
}

int debian_sources(const struct debian_spec *s, char *text, size_t size, struct err *e)
{
	size_t n = 0;

	text[0] = '\0';
	for (size_t i = 0; i < s->nsrc && n < size; i++) {
		n += (size_t)snprintf(text + n, size - n,
				      "%sTypes: deb\nURIs: %s\nSuites: %s\nComponents:",
				      i ? "\n" : "", s->src[i].mirror, s->src[i].suite);
		for (size_t c = 0; c < s->ncomponents && n < size; c++)
			n += (size_t)snprintf(text + n, size - n, " %s", s->components[c]);
		if (n < size)
			n += (size_t)snprintf(text + n, size - n,
					      "\nSigned-By: /usr/share/keyrings/"
					      "debian-archive-keyring.gpg\n");
	}
	return n >= size ? err_set(e, EXIT_USAGE, "too many sources for sources.list") : 0;
}

static int sources_file(int root, const struct debian_spec *s, struct err *e)
{
	char text[8192];

	if (debian_sources(s, text, sizeof(text), e) < 0)
		return -1;
	unlinkat(root, "etc/apt/sources.list", 0);
	return mkdirs(root, "etc/apt/sources.list.d", e) < 0
		       ? -1
		       : put(root, "etc/apt/sources.list.d/debian.sources", text, 0644, e);
}

int debian_build(const struct debian_spec *s, const struct debian_plan *p, const char *tree,
		 struct err *e)
{
	char log[LIMIT_PATH + 32], audit[LIMIT_PATH + 32];
	struct extract x = { .root = -1 };
	int root = -1, rc = -1;
	char *out = NULL;
	size_t outlen = 0;

	if (geteuid() != 0)
		return err_set(e, EXIT_USAGE,
			       "the host second stage runs dpkg in a chroot and needs root "
			       "— run it as root, or in a VM (image pull --in-vm)");
	if (debian_download(s, p, e) < 0)
		return -1;
	snprintf(log, sizeof(log), "%s", s->log);
	snprintf(audit, sizeof(audit), "%s.audit", s->log);
	if (extract_open(&x, tree, "debian", e) < 0)
		return -1;
	x.rootfs = true;
	root = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		err_errno(e, EXIT_SYSTEM, "%s", tree);
		goto out;
	}
	if (debian_unpack_base(s, p, host_sink, &x, e) < 0)
		goto out;
	if (merge_usr(root, e) < 0 || mkdirs(root, "var/lib/dpkg/info", e) < 0 ||
	    mkdirs(root, "var/lib/dpkg/updates", e) < 0 || mkdirs(root, "run/banger-debs", e) < 0 ||
	    mkdirs(root, "proc", e) < 0 || mkdirs(root, "dev", e) < 0 ||
	    mkdirs(root, "usr/sbin", e) < 0 || put(root, "var/lib/dpkg/status", "", 0644, e) < 0 ||
	    put(root, "var/lib/dpkg/available", "", 0644, e) < 0 ||
	    /* No service starts inside the build (invoke-rc.d honours it). */
	    put(root, "usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0755, e) < 0)
		goto out;
	if (dpkg_install(tree, s, p, true, log, e) < 0 ||
	    dpkg_install(tree, s, p, false, log, e) < 0)
		goto out;
	{
		char *argv[] = { "/usr/bin/dpkg", "--audit", NULL };

		if (chroot_run(tree, s->cache, audit, argv, p->epoch, e) < 0)
			goto out;
		if (file_read_all(audit, 1 << 20, &out, &outlen, e) < 0)
			goto out;
		if (outlen) {
			char *nl = strchr(out, '\n');

			if (nl)
				*nl = '\0';
			err_set(e, EXIT_SYSTEM,
				"second stage: dpkg --audit is not silent: %s — see %s", out,
				audit);
			goto out;
		}
	}
	scrub(root);
	unlinkat(root, "run/banger-debs", AT_REMOVEDIR);
	if (sources_file(root, s, e) < 0)
		goto out;
	unlink(log);
	unlink(audit);
	rc = 0;
out:
	free(out);
	if (root >= 0)
		close(root);
	extract_close(&x);
	return rc;
}

/* Appends w to b as one shell word, in single quotes. */
static int sh_word(struct buf *b, const char *w, struct err *e)
{
	if (buf_append(b, " '", 2, e) < 0)
		return -1;
	for (const char *c = w; *c; c++)
		if (*c == '\'' ? buf_append(b, "'\\''", 4, e) < 0 : buf_append(b, c, 1, e) < 0)
			return -1;
	return buf_append(b, "'", 1, e);
}

static int script(struct buf *b, const struct debian_plan *p, const char *debdir,
		  const struct debian_pkg **v, struct err *e)
{
	char path[LIMIT_PATH + 96];

	if (buf_appendf(b, e, "set -e\ncd /\n") < 0)
		return -1;
	for (int base = 1; base >= 0; base--) {
		size_t n = install_order(p, base, v);

		if (!n)
			continue;
		if (buf_appendf(b, e,
				"echo 'second stage: dpkg --install %zu %s packages'\n"
				"dpkg --install --force-depends --force-confnew",
				n, base ? "Essential" : "more") < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/%s.deb", debdir, v[i]->sha256);
			if (sh_word(b, path, e) < 0)
				return -1;
		}
		if (buf_append(b, "\n", 1, e) < 0)
			return -1;
	}
	/* The audit's output, then the failure as the last line (what is reported). */
	if (buf_appendf(b, e,
			"audit=$(dpkg --audit)\n"
			"if [ -n \"$audit\" ]; then printf '%%s\\n' \"$audit\"; "
			"echo 'dpkg --audit is not silent'; exit 1; fi\n"
			"rm -f") < 0)
		return -1;
	for (size_t i = 0; i < sizeof(scrub_files) / sizeof(scrub_files[0]); i++) {
		snprintf(path, sizeof(path), "/%s", scrub_files[i]);
		if (sh_word(b, path, e) < 0)
			return -1;
	}
	/* What this boot wrote (banger's first boot names the machine and may
	 * make host keys) unless a package owns it, and the .debs. */
	return buf_appendf(b, e,
			   " /etc/ssh/ssh_host_* /etc/apt/sources.list\n"
			   "[ -L /var/lib/dbus/machine-id ] || rm -f /var/lib/dbus/machine-id\n"
			   "for f in /etc/hostname /etc/hosts /etc/resolv.conf; do\n"
			   "  dpkg -S \"$f\" >/dev/null 2>&1 || rm -f \"$f\"\ndone\n"
			   "rm -rf") < 0 ||
			       sh_word(b, debdir, e) < 0 || buf_append(b, "\nsync\n", 6, e) < 0
		       ? -1
		       : 0;
}

char *debian_stage2_script(const struct debian_plan *p, const char *debdir, struct err *e)
{
	const struct debian_pkg **v = calloc(p->n + 1, sizeof(*v));
	struct buf b;
	char *text = NULL;

	buf_init(&b, (size_t)16 << 20, "the second stage's script");
	if (!v)
		err_set(e, EXIT_SYSTEM, "out of memory");
	else if (script(&b, p, debdir, v, e) == 0)
		text = buf_steal(&b, NULL);
	buf_fini(&b);
	free(v);
	return text;
}

int debian_clamp_times(const char *tree, int64_t epoch, struct err *e)
{
	int root = open(tree, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc;

	if (root < 0)
		return err_errno(e, EXIT_SYSTEM, "%s", tree);
	rc = clamp_times(root, epoch, 0, e);
	/* The top directory too: the build wrote into it, so its mtime is now. */
	if (rc == 0) {
		struct timespec ts[2] = { { .tv_sec = epoch }, { .tv_sec = epoch } };
		struct stat st;

		if (fstat(root, &st) == 0 && st.st_mtime < epoch)
			ts[0].tv_sec = ts[1].tv_sec = st.st_mtime;
		if (futimens(root, ts) < 0)
			rc = err_errno(e, EXIT_SYSTEM, "%s: cannot set its times", tree);
	}
	close(root);
	return rc;
}
