/* commit.c — see commit.h. Both jobs walk the layer's upper/ beside the
 * image's tree one directory at a time, each directory listed sorted
 * (ext4_img_list), so a directory's merge is a merge of two sorted lists.
 * Each image's directories are visited once (ext4_dirset): a hostile disk
 * cannot make either walk loop. */
#include "vm/commit.h"
#include "buf.h"
#include "digest.h"
#include "err.h"
#include "exitcode.h"
#include "ext4/ext4.h"
#include "ext4/read.h"
#include "file.h"
#include "limits.h"
#include "lock.h"
#include "oci/image.h"
#include "path.h"
#include "store.h"
#include "vm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OVL_XATTR "trusted.overlay."
#define UPPER_DIR "/upper" /* in upper.ext4: overlayfs's upperdir */

/* The two disks of a VM. */
struct layer {
	struct ext4_img *base, *upper;
	struct ext4_inode broot, uroot;
	bool has_upper; /* false until the VM's first boot made upper/ */
};

static void layer_close(struct layer *l)
{
	ext4_img_close(l->base);
	ext4_img_close(l->upper);
	memset(l, 0, sizeof(*l));
}

static int layer_open(const char *base, const char *upper, struct layer *l, struct err *e)
{
	int rc;

	memset(l, 0, sizeof(*l));
	if (!(l->base = ext4_img_open(base, e)) || !(l->upper = ext4_img_open(upper, e)) ||
	    ext4_img_inode(l->base, EXT4_ROOT_INO, &l->broot, e) < 0 ||
	    (rc = ext4_img_lookup(l->upper, UPPER_DIR, &l->uroot, e)) < 0) {
		layer_close(l);
		return -1;
	}
	l->has_upper = rc == 1 && S_ISDIR(l->uroot.mode);
	return 0;
}

static bool whiteout(const struct ext4_inode *in)
{
	return S_ISCHR(in->mode) && !in->major && !in->minor;
}

/* A file's xattrs without overlayfs's own; opaque when it marks the
 * directory so. */
struct xattrs {
	struct xattr {
		char *name;
		void *val;
		size_t len;
	} * v;
	size_t n, cap;
	bool opaque;
};

static void xattrs_fini(struct xattrs *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->v[i].name);
		free(x->v[i].val);
	}
	free(x->v);
	memset(x, 0, sizeof(*x));
}

static int xattr_keep(const char *name, const void *val, size_t len, void *ud, struct err *e)
{
	struct xattrs *x = ud;
	struct xattr *nx;

	if (!strncmp(name, OVL_XATTR, strlen(OVL_XATTR))) {
		if (!strcmp(name, OVL_XATTR "opaque") && len == 1 && *(const char *)val == 'y')
			x->opaque = true;
		return 0;
	}
	if (!x->v) /* only the opaque mark wanted */
		return 0;
	if (buf_array_room((void **)&x->v, &x->cap, x->n, sizeof(*x->v), SIZE_MAX, "xattrs", e) < 0)
		return -1;
	nx = &x->v[x->n];
	nx->name = strdup(name);
	nx->val = malloc(len ? len : 1);
	if (!nx->name || !nx->val) {
		free(nx->name);
		free(nx->val);
		return err_set(e, EXIT_SYSTEM, "out of memory");
	}
	memcpy(nx->val, val, len);
	nx->len = len;
	x->n++;
	return 0;
}

/* Reads in's xattrs into x (all of them when want_all, else only whether
 * it is opaque). */
static int xattrs_read(struct ext4_img *img, const struct ext4_inode *in, bool want_all,
		       struct xattrs *x, struct err *e)
{
	memset(x, 0, sizeof(*x));
	if (want_all) {
		x->cap = 4;
		if (!(x->v = calloc(x->cap, sizeof(*x->v))))
			return err_set(e, EXIT_SYSTEM, "out of memory");
	}
	if (ext4_img_xattrs(img, in, xattr_keep, x, e) < 0) {
		xattrs_fini(x);
		return -1;
	}
	return 0;
}

/* Appends "/name" to path (of length plen); the new length, or -1. */
static int path_push(char *path, size_t plen, const char *name, size_t len, struct err *e)
{
	size_t at = plen == 1 ? 1 : plen + 1;

	if (at + len >= LIMIT_PATH)
		return err_set(e, EXIT_VERIFY, "%s/%s: a path over %d bytes", path, name,
			       LIMIT_PATH);
	if (plen != 1)
		path[plen] = '/';
	memcpy(path + at, name, len + 1);
	return (int)(at + len);
}

static void path_pop(char *path, size_t plen)
{
	path[plen] = '\0';
	if (plen == 1)
		path[1] = '\0';
}

/* ---- vm diff ---- */

void vm_changes_fini(struct vm_changes *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		free(ch->v[i].path);
	free(ch->v);
	memset(ch, 0, sizeof(*ch));
}

static int change_add(struct vm_changes *ch, char kind, const char *path, struct err *e)
{
	if (buf_array_room((void **)&ch->v, &ch->cap, ch->n, sizeof(*ch->v), SIZE_MAX, "changes",
			   e) < 0)
		return -1;
	ch->v[ch->n].kind = kind;
	if (!(ch->v[ch->n].path = strdup(path)))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	ch->n++;
	return 0;
}

static int change_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vm_change *)a)->path, ((const struct vm_change *)b)->path);
}

struct differ {
	struct layer *l;
	struct vm_changes *out;
	struct ext4_dirset seen;
	char path[LIMIT_PATH];
};

/* Upper directory u at d->path (length plen) against the image's
 * directory there (b, NULL when it has none); hidden: the image's content
 * here is hidden (u is opaque, or is below an opaque directory), so what
 * of b the layer does not name again is gone. */
static int diff_dir(struct differ *d, const struct ext4_inode *b, const struct ext4_inode *u,
		    bool hidden, size_t plen, int depth, struct err *e)
{
	struct ext4_dir ul = { 0 }, bl = { 0 };
	int rc = 0;

	if (depth > LIMIT_EXT4_DEPTH)
		return err_set(e, EXIT_VERIFY, "upper.ext4: %s: deeper than %d directories",
			       d->path, LIMIT_EXT4_DEPTH);
	if (ext4_dirset_add(&d->seen, u->ino, "upper.ext4", e) < 0 ||
	    ext4_img_list(d->l->upper, u, &ul, e) < 0 ||
	    (b && ext4_img_list(d->l->base, b, &bl, e) < 0)) {
		ext4_dir_fini(&ul);
		return -1;
	}
	for (size_t i = 0; i < ul.n && rc == 0; i++) {
		const struct ext4_dirent *be =
			b ? ext4_dir_find(&bl, ul.v[i].name, ul.v[i].len) : NULL;
		struct ext4_inode ui, bi;
		int len = path_push(d->path, plen, ul.v[i].name, ul.v[i].len, e);

		if (len < 0 || ext4_img_inode(d->l->upper, ul.v[i].ino, &ui, e) < 0 ||
		    (be && ext4_img_inode(d->l->base, be->ino, &bi, e) < 0)) {
			rc = -1;
			break;
		}
		if (whiteout(&ui)) {
			rc = be ? change_add(d->out, 'D', d->path, e) : 0;
		} else if ((rc = change_add(d->out, be ? 'C' : 'A', d->path, e)) == 0 &&
			   S_ISDIR(ui.mode)) {
			struct xattrs x;

			rc = xattrs_read(d->l->upper, &ui, false, &x, e);
			if (rc == 0)
				rc = diff_dir(d, be && S_ISDIR(bi.mode) ? &bi : NULL, &ui,
					      hidden || x.opaque, (size_t)len, depth + 1, e);
		}
		path_pop(d->path, plen);
	}
	for (size_t i = 0; hidden && i < bl.n && rc == 0; i++) {
		int len;

		if (ext4_dir_find(&ul, bl.v[i].name, bl.v[i].len))
			continue;
		len = path_push(d->path, plen, bl.v[i].name, bl.v[i].len, e);
		rc = len < 0 ? -1 : change_add(d->out, 'D', d->path, e);
		path_pop(d->path, plen);
	}
	ext4_dir_fini(&ul);
	ext4_dir_fini(&bl);
	return rc;
}

static int flat_disk(const struct vm_config *c, const char *what, struct err *e)
{
	return err_set(e, EXIT_USAGE,
		       "VM '%s' has a flat disk (--disk copy): it has no layer to %s — make it "
		       "with --disk overlay",
		       c->name, what);
}

int vm_diff(const struct vm_paths *p, const struct vm_config *c, struct vm_changes *out,
	    bool *running, struct err *e)
{
	struct differ *d;
	struct layer l;
	struct xattrs x;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (running)
		*running = vm_status_get(p, NULL) == VM_RUNNING;
	if (strcmp(c->disk, "overlay"))
		return flat_disk(c, "compare", e);
	if (layer_open(p->base, p->upper, &l, e) < 0)
		return -1;
	if (!l.has_upper) {
		layer_close(&l);
		return 0;
	}
	if (!(d = calloc(1, sizeof(*d)))) {
		layer_close(&l);
		return err_set(e, EXIT_SYSTEM, "out of memory");
	}
	d->l = &l;
	d->out = out;
	d->path[0] = '/';
	ext4_dirset_init(&d->seen);
	rc = xattrs_read(l.upper, &l.uroot, false, &x, e);
	if (rc == 0)
		rc = diff_dir(d, &l.broot, &l.uroot, x.opaque, 1, 0, e);
	ext4_dirset_fini(&d->seen);
	free(d);
	layer_close(&l);
	if (rc < 0) {
		vm_changes_fini(out);
		return -1;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), change_cmp);
	return 0;
}

/* ---- vm commit ---- */

/* Inode numbers of one disk already written: hard links are linked again. */
struct inomap {
	uint32_t *k, *v;
	size_t cap, n;
};

static uint32_t *inomap_slot(const struct inomap *m, uint32_t key)
{
	size_t i = (key * 2654435761u) & (m->cap - 1);

	while (m->k[i] && m->k[i] != key)
		i = (i + 1) & (m->cap - 1);
	return &m->k[i];
}

static uint32_t inomap_get(const struct inomap *m, uint32_t key)
{
	uint32_t *s;

	if (!m->cap)
		return 0;
	s = inomap_slot(m, key);
	return *s ? m->v[s - m->k] : 0;
}

static int inomap_put(struct inomap *m, uint32_t key, uint32_t val, struct err *e)
{
	uint32_t *s;

	if ((m->n + 1) * 2 > m->cap) {
		struct inomap g = { 0 };

		g.cap = m->cap ? m->cap * 2 : 256;
		g.k = calloc(g.cap, sizeof(*g.k));
		g.v = calloc(g.cap, sizeof(*g.v));
		if (!g.k || !g.v) {
			free(g.k);
			free(g.v);
			return err_set(e, EXIT_SYSTEM, "out of memory");
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->k[i]) {
				uint32_t *t = inomap_slot(&g, m->k[i]);

				*t = m->k[i];
				g.v[t - g.k] = m->v[i];
			}
		g.n = m->n;
		free(m->k);
		free(m->v);
		*m = g;
	}
	s = inomap_slot(m, key);
	if (!*s)
		m->n++;
	*s = key;
	m->v[s - m->k] = val;
	return 0;
}

struct merger {
	struct layer *l;
	struct ext4_fs *fs;
	struct inomap links[2]; /* [0] the image's inodes, [1] the layer's */
	struct ext4_dirset seen[2];
	char path[LIMIT_PATH];
	char target[LIMIT_PATH];
	size_t changes;
	int64_t clamp; /* > 0: no time after it (vm_flatten_opts) */
};

static void attr_of(const struct ext4_inode *in, const char *target, struct ext4_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->mode = in->mode;
	a->uid = in->uid;
	a->gid = in->gid;
	a->size = S_ISREG(in->mode) ? in->size : 0;
	a->atime = in->atime;
	a->mtime = in->mtime;
	a->ctime = in->ctime;
	a->atime_ns = in->atime_ns;
	a->mtime_ns = in->mtime_ns;
	a->ctime_ns = in->ctime_ns;
	a->major = in->major;
	a->minor = in->minor;
	a->symlink = S_ISLNK(in->mode) ? target : NULL;
}

/* vm_flatten_opts.clamp: mtime at most clamp, atime and ctime equal to it. */
static void clamp(struct ext4_attr *a, int64_t clamp)
{
	if (clamp <= 0)
		return;
	if (a->mtime > clamp || (a->mtime == clamp && a->mtime_ns)) {
		a->mtime = clamp;
		a->mtime_ns = 0;
	}
	a->atime = a->ctime = a->mtime;
	a->atime_ns = a->ctime_ns = a->mtime_ns;
}

struct sink {
	struct ext4_fs *fs;
	uint32_t ino;
};

static int sink_write(uint64_t off, const void *data, size_t len, void *ud, struct err *e)
{
	struct sink *s = ud;

	return ext4_write(s->fs, s->ino, off, data, len, e);
}

static int merge_dir(struct merger *m, uint32_t out, const struct ext4_inode *b,
		     const struct ext4_inode *u, size_t plen, int depth, struct err *e);

/* Writes inode in of one disk (up: the layer) as name in directory dir of
 * the new tree; a directory with what is below it, merged with the image's
 * directory b when the layer's is not opaque. */
static int put_inode(struct merger *m, bool up, uint32_t dir, const char *name, size_t len,
		     const struct ext4_inode *in, const struct ext4_inode *b, size_t plen,
		     int depth, struct err *e)
{
	struct ext4_img *img = up ? m->l->upper : m->l->base;
	struct inomap *links = &m->links[up];
	uint32_t ino = 0;
	struct ext4_attr a;
	struct xattrs x;
	int rc = -1;

	if (!S_ISDIR(in->mode) && in->links > 1 && (ino = inomap_get(links, in->ino)))
		return ext4_link(m->fs, dir, name, len, ino, e);
	m->target[0] = '\0';
	if (S_ISLNK(in->mode) && ext4_img_readlink(img, in, m->target, sizeof(m->target), e) < 0)
		return -1;
	attr_of(in, m->target, &a);
	clamp(&a, m->clamp);
	if (xattrs_read(img, in, true, &x, e) < 0)
		return -1;
	/* the root's lost+found: the image's own replaces the new tree's */
	if ((dir == EXT4_ROOT_INO && ext4_remove(m->fs, dir, name, len, e) < 0) ||
	    ext4_create(m->fs, dir, name, len, &a, &ino, e) < 0)
		goto out;
	for (size_t i = 0; i < x.n; i++)
		if (ext4_xattr_set(m->fs, ino, x.v[i].name, x.v[i].val, x.v[i].len, e) < 0)
			goto out;
	if (S_ISREG(in->mode) &&
	    ext4_img_data(img, in, sink_write, &(struct sink){ m->fs, ino }, e) < 0)
		goto out;
	if (!S_ISDIR(in->mode) && in->links > 1 && inomap_put(links, in->ino, ino, e) < 0)
		goto out;
	if (S_ISDIR(in->mode) && merge_dir(m, ino, up ? (x.opaque ? NULL : b) : in, up ? in : NULL,
					   plen, depth + 1, e) < 0)
		goto out;
	rc = 0;
out:
	xattrs_fini(&x);
	return rc;
}

/* The new tree's directory out from the image's directory b and the
 * layer's u (either may be NULL), at m->path (length plen). */
static int merge_dir(struct merger *m, uint32_t out, const struct ext4_inode *b,
		     const struct ext4_inode *u, size_t plen, int depth, struct err *e)
{
	struct ext4_dir bl = { 0 }, ul = { 0 };
	size_t i = 0, j = 0;
	int rc = 0;

	if (depth > LIMIT_EXT4_DEPTH)
		return err_set(e, EXIT_VERIFY, "%s: deeper than %d directories", m->path,
			       LIMIT_EXT4_DEPTH);
	if ((b && (ext4_dirset_add(&m->seen[0], b->ino, "base.ext4", e) < 0 ||
		   ext4_img_list(m->l->base, b, &bl, e) < 0)) ||
	    (u && (ext4_dirset_add(&m->seen[1], u->ino, "upper.ext4", e) < 0 ||
		   ext4_img_list(m->l->upper, u, &ul, e) < 0))) {
		ext4_dir_fini(&bl);
		return -1;
	}
	while (rc == 0 && (i < bl.n || j < ul.n)) {
		int c = i == bl.n ? 1 : j == ul.n ? -1 : strcmp(bl.v[i].name, ul.v[j].name);
		const struct ext4_dirent *de = c < 0 ? &bl.v[i] : &ul.v[j];
		struct ext4_inode bi, ui;
		int len = path_push(m->path, plen, de->name, de->len, e);

		if (len < 0) {
			rc = -1;
			break;
		}
		if (c < 0) { /* the image's alone */
			rc = ext4_img_inode(m->l->base, de->ino, &bi, e);
			if (rc == 0)
				rc = put_inode(m, false, out, de->name, de->len, &bi, NULL,
					       (size_t)len, depth, e);
		} else { /* the layer's, over the image's when both have it */
			m->changes++;
			rc = ext4_img_inode(m->l->upper, de->ino, &ui, e);
			if (rc == 0 && c == 0)
				rc = ext4_img_inode(m->l->base, bl.v[i].ino, &bi, e);
			if (rc == 0 && !whiteout(&ui))
				rc = put_inode(m, true, out, de->name, de->len, &ui,
					       c == 0 && S_ISDIR(bi.mode) ? &bi : NULL, (size_t)len,
					       depth, e);
		}
		if (rc < 0 && !strchr(e->msg, '/'))
			err_prefix(e, "%s", m->path);
		path_pop(m->path, plen);
		i += c <= 0;
		j += c >= 0;
	}
	ext4_dir_fini(&bl);
	ext4_dir_fini(&ul);
	return rc;
}

int vm_flatten(const char *base, const char *upper, const char *path,
	       const struct vm_flatten_opts *o, struct vm_committed *res, struct err *e)
{
	struct ext4_opts eo = {
		.label = o->label, .seed = o->seed, .size = o->size, .progress = o->progress
	};
	struct merger *m = calloc(1, sizeof(*m));
	const struct ext4_inode *root;
	struct ext4_attr a;
	struct xattrs x = { 0 };
	struct layer l;
	uint64_t bytes;
	int rc = -1;

	if (!m)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	if (layer_open(base, upper, &l, e) < 0) {
		free(m);
		return -1;
	}
	m->l = &l;
	m->path[0] = '/';
	m->clamp = o->clamp;
	ext4_dirset_init(&m->seen[0]);
	ext4_dirset_init(&m->seen[1]);
	/* overlayfs shows the upper directory's own attributes as / */
	root = l.has_upper ? &l.uroot : &l.broot;
	eo.time = l.broot.mtime > root->mtime ? l.broot.mtime : root->mtime;
	if (o->clamp > 0 && eo.time > o->clamp)
		eo.time = o->clamp;
	if (!(m->fs = ext4_new(path, &eo, e)) ||
	    xattrs_read(l.has_upper ? l.upper : l.base, root, true, &x, e) < 0)
		goto out;
	attr_of(root, NULL, &a);
	clamp(&a, o->clamp);
	ext4_set_attr(m->fs, EXT4_ROOT_INO, &a);
	for (size_t i = 0; i < x.n; i++)
		if (ext4_xattr_set(m->fs, EXT4_ROOT_INO, x.v[i].name, x.v[i].val, x.v[i].len, e) <
		    0)
			goto out;
	if (merge_dir(m, EXT4_ROOT_INO, x.opaque ? NULL : &l.broot, l.has_upper ? &l.uroot : NULL,
		      1, 0, e) < 0 ||
	    ext4_finish(m->fs, &bytes, e) < 0)
		goto out;
	res->size = bytes;
	res->changes = m->changes;
	rc = 0;
out:
	xattrs_fini(&x);
	ext4_free(m->fs); /* an unfinished image is removed */
	for (int k = 0; k < 2; k++) {
		free(m->links[k].k);
		free(m->links[k].v);
		ext4_dirset_fini(&m->seen[k]);
	}
	free(m);
	layer_close(&l);
	return rc;
}

/* The image's disk with the layer applied, into the writer at path. */
static int flatten(const struct vm_paths *p, const char *path, const char *image,
		   const struct vm_commit_opts *o, struct vm_committed *res, struct err *e)
{
	char seed[LIMIT_PATH + 128];
	struct vm_flatten_opts fo = { .label = image, .seed = seed, .progress = o->progress };

	snprintf(seed, sizeof(seed), "banger vm commit %s %s", image, p->dir);
	return vm_flatten(p->base, p->upper, path, &fo, res, e);
}

/* A flat disk (--disk copy) as it is. */
static int copy_flat(const char *src, const char *dst, struct vm_committed *res, struct err *e)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
	struct stat st;

	if (in < 0)
		return err_errno(e, 0, "%s: cannot open", src);
	if (!ext4_is_ext4(src)) {
		err_set(e, EXIT_VERIFY, "%s: not an ext4 filesystem", src);
		goto out;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		err_errno(e, 0, "%s: cannot create", dst);
		goto out;
	}
	if (file_copy_fd(in, out, src, NULL, e) < 0 || fstat(out, &st) < 0 || fsync(out) < 0) {
		if (!e->code)
			err_errno(e, 0, "%s: cannot write", dst);
		goto out;
	}
	res->size = (uint64_t)st.st_size;
	rc = 0;
out:
	close(in);
	if (out >= 0)
		close(out);
	return rc;
}

/* The base image's manifest: its run config (Env, Cmd…) goes into the new
 * image. The VM keeps its base's bytes when images/NAME is replaced or
 * removed, but not its manifest: then the notice says what was used. */
static void base_meta(const struct store *s, const struct vm_config *c, struct image_meta *bm,
		      struct vm_committed *res)
{
	char dir[LIMIT_PATH];
	struct err ignore;
	struct tm tm;

	err_init(&ignore);
	memset(bm, 0, sizeof(*bm));
	if (store_object_dir(s, "images", c->image, dir, sizeof(dir), &ignore) < 0 ||
	    image_meta_read(dir, bm, &ignore) < 0) {
		memset(bm, 0, sizeof(*bm));
		snprintf(res->notice, sizeof(res->notice),
			 "image '%s' (the VM's base) is no longer installed: the new image has "
			 "no run config (Env, Cmd…)",
			 c->image);
		return;
	}
	memset(&tm, 0, sizeof(tm));
	if (strptime(bm->created, "%Y-%m-%dT%H:%M:%SZ", &tm) && timegm(&tm) > c->created)
		snprintf(res->notice, sizeof(res->notice),
			 "image '%s' was replaced since the VM was made: the new image has its "
			 "current run config (Env, Cmd…)",
			 c->image);
}

int vm_commit(const struct store *s, const char *vm, const char *image,
	      const struct vm_commit_opts *o, struct vm_committed *res, struct err *e)
{
	char staging[LIMIT_PATH] = "", disk[LIMIT_PATH], hex[DIGEST_HEX_LEN + 1];
	struct image_meta bm, m, old;
	struct vm_config c;
	struct vm_paths p;
	struct err ignore;
	int vlock = -1, ilock = -1, rc = -1;

	memset(res, 0, sizeof(*res));
	err_init(&ignore);
	if (vm_paths_init(s, vm, &p, e) < 0 ||
	    store_object_dir(s, "images", image, res->dir, sizeof(res->dir), e) < 0 ||
	    (vlock = vm_lock(s, vm, e)) < 0)
		return -1;
	if (vm_config_load(&p, &c, e) < 0)
		goto out;
	if (vm_status_get(&p, NULL) == VM_RUNNING) {
		err_set(e, EXIT_BUSY,
			"VM '%s' is running: its disk is still being written — stop it first "
			"(banger vm stop %s)",
			vm, vm);
		goto out;
	}
	if ((ilock = store_lock(s, "images", image, NULL, e)) < 0)
		goto out;
	if (image_meta_read(res->dir, &old, &ignore) == 0 && !o->force) {
		err_set(e, EXIT_BUSY, "image '%s' already exists (%s) — use -f to replace it",
			image, old.source);
		goto out;
	}
	base_meta(s, &c, &bm, res);
	store_sweep_staging(s, "images", image);
	if (store_staging(s, "images", image, staging, sizeof(staging), e) < 0) {
		staging[0] = '\0';
		goto out;
	}
	/* setuid files and device nodes, as root: no one else reaches them */
	if (chmod(staging, 0700) < 0) {
		err_errno(e, 0, "%s: chmod", staging);
		goto out;
	}
	if (path_join(disk, sizeof(disk), staging, "rootfs.ext4", e) < 0 ||
	    (strcmp(c.disk, "overlay") ? copy_flat(p.rootfs, disk, res, e)
				       : flatten(&p, disk, image, o, res, e)) < 0 ||
	    sha256_file(disk, hex, e) < 0)
		goto out;
	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", image);
	snprintf(m.source, sizeof(m.source), "commit:%s", vm);
	snprintf(m.digest, sizeof(m.digest), "sha256:%s", hex);
	snprintf(m.platform, sizeof(m.platform), "%s", bm.platform);
	m.size = res->size;
	m.config = bm.config;
	image_now(m.created);
	snprintf(res->digest, sizeof(res->digest), "%s", m.digest);
	if (chmod(staging, 0755) < 0) {
		err_errno(e, 0, "%s: chmod", staging);
		goto out;
	}
	/* no OCI blobs made it: an empty layers file says so to image prune */
	if (path_join(disk, sizeof(disk), staging, "layers", e) < 0 ||
	    file_write_atomic(disk, "", 0, 0644, e) < 0 || image_meta_write(staging, &m, e) < 0 ||
	    file_commit_dir(staging, res->dir, e) < 0)
		goto out;
	staging[0] = '\0';
	rc = 0;
out:
	if (staging[0])
		path_remove_tree(staging, &ignore);
	lock_release(ilock);
	lock_release(vlock);
	return rc;
}
