/* pull.c — see pull.h. */
#include "oci/pull.h"
#include "catalog/bundle.h"
#include "catalog/catalog.h"
#include "digest.h"
#include "err.h"
#include "exitcode.h"
#include "ext4/ext4.h"
#include "file.h"
#include "limits.h"
#include "lock.h"
#include "oci/image.h"
#include "oci/image_debian.h"
#include "oci/layer.h"
#include "oci/ref.h"
#include "oci/registry.h"
#include "path.h"
#include "store.h"
#include "suggest.h"
#include "version.h"

#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- resolving: which entry a text names ---------------------------------- */

static bool has_rootfs(const struct store *s, const char *name)
{
	char dir[LIMIT_PATH], file[LIMIT_PATH];
	struct err e;

	err_init(&e);
	return strlen(name) <= IMAGE_NAME_MAX &&
	       store_object_dir(s, "images", name, dir, sizeof(dir), &e) == 0 &&
	       path_join(file, sizeof(file), dir, "rootfs.ext4", &e) == 0 &&
	       access(file, R_OK) == 0;
}

/* images/NAME's recorded source ("" when it has no readable manifest: a
 * hand-made entry is known by its name only). */
static void entry_source(const struct store *s, const char *name, char *out, size_t size)
{
	char dir[LIMIT_PATH];
	struct image_meta m;
	struct err e;

	err_init(&e);
	out[0] = '\0';
	if (store_object_dir(s, "images", name, dir, sizeof(dir), &e) == 0 &&
	    image_meta_read(dir, &m, &e) == 0)
		snprintf(out, size, "%s", m.source);
}

/* A source that came from a registry (not "import:PATH", not a bundle URL). */
static bool source_is_ref(const char *src)
{
	struct ref r;
	struct err e;

	char norm[IMAGE_SOURCE_MAX];

	/* Only a normalised reference is one: "debian:NAME" (a catalog debian
	 * image), "import:PATH" and bundle URLs are not. */
	err_init(&e);
	return ref_parse(src, &r, &e) == 0 && ref_format(&r, norm, sizeof(norm), &e) == 0 &&
	       !strcmp(norm, src);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* The installed entry whose source is exactly source: prefer if it is one,
 * else the first by name. */
static bool find_by_source(const struct store *s, const char *source, const char *prefer,
			   char out[IMAGE_NAME_MAX + 1])
{
	char kind[LIMIT_PATH], src[IMAGE_SOURCE_MAX + LIMIT_URL];
	struct dirent **ents = NULL;
	struct err e;
	bool found = false;
	int n;

	err_init(&e);
	if (prefer && has_rootfs(s, prefer)) {
		entry_source(s, prefer, src, sizeof(src));
		if (!strcmp(src, source)) {
			snprintf(out, IMAGE_NAME_MAX + 1, "%s", prefer);
			return true;
		}
	}
	if (path_join(kind, sizeof(kind), s->home, "images", &e) < 0 ||
	    (n = scandir(kind, &ents, NULL, by_name)) < 0)
		return false;
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (!found && name[0] != '.' && path_is_simple_name(name) && has_rootfs(s, name)) {
			entry_source(s, name, src, sizeof(src));
			if (!strcmp(src, source)) {
				snprintf(out, IMAGE_NAME_MAX + 1, "%.64s", name);
				found = true;
			}
		}
		free(ents[i]);
	}
	free(ents);
	return found;
}

/* base, or base-HASH8 (the reference's sha256) when base holds another
 * source: two references never share a default name. */

/* EXIT_NOTFOUND for arg with the close names: the catalog's and the
 * installed ones. */
static int unknown_name(const struct store *s, const struct catalog *cat, const char *arg,
			struct err *e)
{
	const char *cands[LIMIT_SUGGEST_LOCAL + 1];
	char dir[LIMIT_PATH], hint[256], (*local)[IMAGE_NAME_MAX + 1] = NULL;
	struct dirent *de;
	size_t n = 0, nl = 0;
	DIR *d;

	for (size_t i = 0; i < cat->n && n < LIMIT_SUGGEST_LOCAL; i++)
		cands[n++] = cat->entries[i].name;
	if (path_join(dir, sizeof(dir), s->home, "images", e) == 0 && (d = opendir(dir))) {
		local = calloc(LIMIT_SUGGEST_LOCAL, sizeof(*local));
		while (local && (de = readdir(d)) && n < LIMIT_SUGGEST_LOCAL + 1 &&
		       nl < LIMIT_SUGGEST_LOCAL)
			if (path_is_simple_name(de->d_name) &&
			    strlen(de->d_name) <= IMAGE_NAME_MAX) {
				memcpy(local[nl], de->d_name, strlen(de->d_name) + 1);
				cands[n++] = local[nl++];
			}
		closedir(d);
	}
	suggest_phrase(arg, cands, n, hint, sizeof(hint));
	free(local);
	return err_set(e, EXIT_NOTFOUND,
		       "'%s': no image of that name here or in %s%s%s — a Docker Hub image is "
		       "written library/%s or %s:TAG",
		       arg, cat->source, hint[0] ? "; " : "", hint, arg, arg);
}

static int default_name(const struct store *s, const char *base, const char *source,
			char out[IMAGE_NAME_MAX + 1], struct err *e)
{
	char dir[LIMIT_PATH], hex[DIGEST_HEX_LEN + 1];
	struct sha256 h;
	struct stat st;

	if (store_object_dir(s, "images", base, dir, sizeof(dir), e) < 0)
		return -1;
	if (stat(dir, &st) < 0) {
		snprintf(out, IMAGE_NAME_MAX + 1, "%s", base);
		return 0;
	}
	sha256_init(&h);
	sha256_update(&h, source, strlen(source));
	sha256_hex(&h, hex);
	snprintf(out, IMAGE_NAME_MAX + 1, "%.55s-%.8s", base, hex);
	return 0;
}

int image_resolve(const struct store *s, const struct catalog *cat, const char *arg,
		  const struct image_pull_opts *o, struct image_target *t, struct err *e)
{
	const struct catalog_entry *ent = NULL;
	const char *refarg = arg, *base = NULL;
	char defname[IMAGE_NAME_MAX + 1];
	struct ref ref;
	struct err ignore;
	bool simple = path_is_simple_name(arg);

	memset(t, 0, sizeof(*t));
	err_init(&ignore);
	if (o->name && (!path_is_simple_name(o->name) || strlen(o->name) > IMAGE_NAME_MAX))
		return err_set(e, EXIT_USAGE,
			       "--name '%s': use letters, digits, '.', '_' and '-' (at most %d)",
			       o->name, IMAGE_NAME_MAX);
	t->named = o->name != NULL;
	/* 1. An installed entry of that name: the user's own alias wins. */
	if (simple && (!o->name || !strcmp(o->name, arg)) && has_rootfs(s, arg)) {
		snprintf(t->name, sizeof(t->name), "%s", arg);
		entry_source(s, arg, t->source, sizeof(t->source));
		t->installed = true;
		if (!o->if_missing && source_is_ref(t->source)) {
			/* image pull NAME: refresh it from where it came from. */
			t->how = IMAGE_BY_REF;
			t->named = true;
			return 0;
		}
		t->how = IMAGE_BY_NAME;
		t->source[0] = '\0';
		if (o->if_missing || !(t->ent = catalog_find(cat, arg, &ignore)))
			return 0;
	}
	/* 2. The catalog. */
	if (simple && (t->ent || (t->ent = catalog_find(cat, arg, &ignore)))) {
		ent = t->ent;
		if (ent->kind == CATALOG_BUNDLE) {
			char src[LIMIT_URL];

			t->how = IMAGE_BY_BUNDLE;
			snprintf(t->name, sizeof(t->name), "%s", o->name ? o->name : ent->name);
			entry_source(s, t->name, src, sizeof(src));
			t->installed = has_rootfs(s, t->name) && !strcmp(src, ent->url);
			return 0;
		}
		if (ent->kind == CATALOG_DEBIAN) {
			char src[LIMIT_PATH];

			t->how = IMAGE_BY_DEBIAN;
			snprintf(t->name, sizeof(t->name), "%s", o->name ? o->name : ent->name);
			snprintf(t->source, sizeof(t->source), "debian:%s", ent->name);
			entry_source(s, t->name, src, sizeof(src));
			t->installed = has_rootfs(s, t->name) && !strcmp(src, t->source);
			return 0;
		}
		if (ent->kind != CATALOG_OCI)
			return err_set(e, EXIT_USAGE, "%s: a %s catalog entry is not an image",
				       ent->name, catalog_kind_name(ent->kind));
		refarg = ent->ref; /* an oci entry: the reference it names */
	} else if (simple && o->fallback_ref && !has_rootfs(s, arg)) {
		refarg = o->fallback_ref;
		base = arg;
	} else if (simple && !strchr(arg, ':') && !has_rootfs(s, arg)) {
		/* A bare name no store or catalog knows is a typo far more often
		 * than a Docker Hub image: refuse it now, not after a registry
		 * round trip. */
		return unknown_name(s, cat, arg, e);
	}
	/* 3. A reference, normalised once: its text is the entry's identity. */
	t->how = IMAGE_BY_REF;
	t->installed = false;
	if (ref_parse(refarg, &ref, e) < 0 || ref_format(&ref, t->source, sizeof(t->source), e) < 0)
		return -1;
	if (o->name || ent) {
		/* --name, or the catalog's name for its entry: that entry, which
		 * holds this reference or is to. */
		char src[IMAGE_SOURCE_MAX + LIMIT_URL];

		snprintf(t->name, sizeof(t->name), "%s", o->name ? o->name : ent->name);
		entry_source(s, t->name, src, sizeof(src));
		t->installed = has_rootfs(s, t->name) && !strcmp(src, t->source);
		t->named = true;
		return 0;
	}
	if (!base) {
		ref_default_name(&ref, defname);
		base = defname;
	}
	if (find_by_source(s, t->source, base, t->name)) {
		t->installed = true;
		return 0;
	}
	return default_name(s, base, t->source, t->name, e);
}

/* ---- the registry pull ------------------------------------------------------ */

/* Reads layer i from the background download as it arrives. */
struct layer_reader {
	struct blob_fetch *fetch;
	size_t i;
	int fd;
	uint64_t off;
	bool failed;
	struct err err;
	char buf[256 * 1024];
};

static ssize_t read_layer(void *ud, const void **out)
{
	struct layer_reader *rd = ud;
	ssize_t n = registry_layer_read(rd->fetch, rd->i, rd->fd, rd->off, rd->buf, sizeof(rd->buf),
					&rd->err);

	if (n < 0) {
		rd->failed = true;
		return -1;
	}
	rd->off += (uint64_t)n;
	*out = rd->buf;
	return n;
}

/* Layer i of fetch replayed into lr as it downloads, then (a cached layer)
 * checked against its digest. 1 when a cached layer had rotted: it is
 * evicted from the cache, and what was built must go. */
static int apply_layer(struct registry *r, const struct oci_image *img, struct blob_fetch *fetch,
		       struct layer_reader *rd, size_t i, struct layer_root *lr, struct err *e)
{
	char what[700];

	snprintf(what, sizeof(what), "%s: layer %zu/%zu (%.19s…)", r->name, i + 1, img->nlayers,
		 img->layers[i].digest);
	memset(rd, 0, offsetof(struct layer_reader, buf));
	rd->fetch = fetch;
	rd->i = i;
	err_init(&rd->err);
	rd->fd = registry_layer_open(fetch, i, e);
	if (rd->fd < 0)
		return -1;
	if (layer_apply_stream(lr, read_layer, rd, what, e) < 0 ||
	    registry_layer_check(fetch, i, rd->fd, e) < 0) {
		if (rd->failed)
			*e = rd->err; /* the download's own error says more */
		else if (registry_layer_check(fetch, i, rd->fd, e) == 0)
			registry_layer_wait(fetch, i, e); /* corrupt, not malformed? */
		close(rd->fd);
		return registry_layer_evicted(fetch, i) ? 1 : -1;
	}
	close(rd->fd);
	return 0;
}

/* Downloads the layers and replays them as they arrive into the ext4
 * writer's tree (file data straight into dir/rootfs.ext4) and
 * finishes the image — only once every layer proved to match its digest
 * does this return 0. 1: a cached layer had rotted (it is evicted, its
 * message in e, the unfinished image removed): build again to fetch it. */
static int build(struct registry *r, const struct oci_image *img, const char *blobs,
		 const char *tmp, const char *dir, const struct image_pull_opts *o,
		 struct image_meta *m, uint64_t *fetched, struct err *e)
{
	char ext4[LIMIT_PATH];
	struct ext4_opts eo = { .size = o->size,
				.label = m->name,
				.seed = img->manifest_digest,
				.progress = o->progress };
	struct layer_reader *rd = NULL;
	struct blob_fetch *fetch = NULL;
	struct ext4_fs *fs = NULL;
	struct layer_root lr;
	int rc = -1;

	if (path_join(ext4, sizeof(ext4), dir, "rootfs.ext4", e) < 0)
		return -1;
	if (!(rd = malloc(sizeof(*rd))))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	if (!(fs = ext4_new(ext4, &eo, e)))
		goto out;
	layer_root_open(&lr, fs);
	if (!(fetch = registry_fetch_start(r, img, blobs, tmp, e)))
		goto out;
	for (size_t i = 0; i < img->nlayers; i++)
		if ((rc = apply_layer(r, img, fetch, rd, i, &lr, e)) != 0)
			goto out;
	/* Only now is everything that was replayed known to be verified. */
	rc = registry_fetch_finish(fetch, false, fetched, e);
	fetch = NULL;
	if (rc < 0)
		goto out;
	rc = -1;
	/* The image is what its layers made, nothing more: banger reaches
	 * the guest through its initramfs (initramfs/init.c). */
	if (ext4_finish(fs, &m->size, e) < 0)
		goto out;
	rc = 0;
out:
	if (fetch) {
		struct err ignore;

		err_init(&ignore);
		registry_fetch_finish(fetch, true, NULL, &ignore);
	}
	ext4_free(fs); /* an unfinished image is removed */
	free(rd);
	return rc;
}

static void result_from(struct image_pulled *out, const struct image_meta *m)
{
	snprintf(out->source, sizeof(out->source), "%s", m->source);
	snprintf(out->digest, sizeof(out->digest), "%s", m->digest);
	out->size = m->size;
}

static int pull_ref(const struct store *s, const struct image_target *t,
		    const struct image_pull_opts *o, struct image_pulled *out, struct err *e)
{
	char blobs[LIMIT_PATH], tmp[LIMIT_PATH], kind[LIMIT_PATH], staging[LIMIT_PATH] = "";
	struct registry_opts ro = { .creds = o->creds,
				    .insecure = o->insecure,
				    .platform = o->platform,
				    .progress = o->progress };
	struct registry r;
	struct oci_image img;
	struct image_meta m, old;
	struct ref ref;
	struct err ignore;
	bool have_old;
	int lock = -1, rc = -1;

	memset(&r, 0, sizeof(r));
	memset(&img, 0, sizeof(img));
	memset(&m, 0, sizeof(m));
	err_init(&ignore);
	if (ref_parse(t->source, &ref, e) < 0 ||
	    store_kind_dir(s, "oci/blobs/sha256", blobs, sizeof(blobs), e) < 0 ||
	    store_kind_dir(s, "tmp", tmp, sizeof(tmp), e) < 0 ||
	    store_kind_dir(s, "images", kind, sizeof(kind), e) < 0 ||
	    (lock = store_lock(s, "images", t->name, &out->waited, e)) < 0)
		return -1;
	store_sweep_staging(s, "images", t->name);
	registry_sweep_tmp(tmp);

	have_old = image_meta_read(out->dir, &old, &ignore) == 0;
	if (have_old && strcmp(old.source, t->source) && !o->force) {
		err_set(e, EXIT_BUSY,
			t->named ? "%s: already holds %s — use --name for another name, or --force"
				 : "%s: another banger just put %s there — pull again",
			t->name, old.source);
		goto out;
	}
	if (have_old && o->if_missing && !o->force) { /* pulled while we waited */
		out->outcome = IMAGE_PRESENT;
		result_from(out, &old);
		rc = 0;
		goto out;
	}
	if (registry_open(&r, &ref, &ro, e) < 0 || registry_resolve(&r, &img, e) < 0)
		goto out;
	out->nlayers = img.nlayers;
	if (have_old && !strcmp(old.digest, img.manifest_digest) && !o->force) {
		out->outcome = IMAGE_UP_TO_DATE;
		result_from(out, &old);
		rc = 0;
		goto out;
	}
	if (store_staging(s, "images", t->name, staging, sizeof(staging), e) < 0) {
		staging[0] = '\0';
		goto out;
	}
	/* The tree holds the image's setuid files and device nodes, as root: no
	 * other user may reach it while it exists. */
	if (chmod(staging, 0700) < 0) {
		err_errno(e, 0, "%s: chmod", staging);
		goto out;
	}
	snprintf(m.name, sizeof(m.name), "%s", t->name);
	snprintf(m.source, sizeof(m.source), "%s", t->source);
	snprintf(m.digest, sizeof(m.digest), "%s", img.manifest_digest);
	snprintf(m.index_digest, sizeof(m.index_digest), "%s", img.index_digest);
	snprintf(m.platform, sizeof(m.platform), "%s", img.platform);
	image_now(m.created);
	/* How the image wants to run (Env, Cmd…), for vm run. */
	if (image_config_from_oci(img.config_json, &m.config, e) < 0) {
		err_prefix(e, "%s", t->source);
		goto out;
	}
	/* Each round evicts a rotted cached layer, which the next downloads. */
	for (size_t round = 0;; round++) {
		int b = build(&r, &img, blobs, tmp, staging, o, &m, &out->fetched, e);

		if (b < 0)
			goto out;
		if (b == 0)
			break;
		out->nevicted++;
		snprintf(out->evicted, sizeof(out->evicted), "%s", e->msg);
		err_init(e);
		if (round == img.nlayers) {
			err_set(e, EXIT_VERIFY, "%s: cached layers keep failing their digests",
				t->name);
			goto out;
		}
	}
	if (chmod(staging, 0755) < 0) {
		err_errno(e, 0, "%s: chmod", staging);
		goto out;
	}
	if (image_layers_write(staging, &img, e) < 0 || image_meta_write(staging, &m, e) < 0 ||
	    file_commit_dir(staging, out->dir, e) < 0)
		goto out;
	staging[0] = '\0';
	out->outcome = IMAGE_PULLED;
	result_from(out, &m);
	rc = 0;
out:
	if (staging[0])
		path_remove_tree(staging, &ignore);
	oci_image_fini(&img);
	registry_fini(&r);
	lock_release(lock);
	return rc;
}

/* ---- the transaction --------------------------------------------------------- */

static int installed_result(const struct image_target *t, struct image_pulled *out, struct err *e)
{
	struct image_meta m;
	struct err ignore;

	err_init(&ignore);
	(void)e;
	out->outcome = IMAGE_PRESENT;
	if (image_meta_read(out->dir, &m, &ignore) == 0)
		result_from(out, &m);
	else
		snprintf(out->source, sizeof(out->source), "%s", t->source);
	return 0;
}

int image_pull(const struct store *s, const char *arg, const struct image_pull_opts *o,
	       struct image_pulled *out, struct err *e)
{
	struct image_target t;
	struct catalog cat;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	catalog_init(&cat);
	out->how = IMAGE_BY_REF;
	if (catalog_load(&cat, CATALOG_IMAGES, o->catalog, e) < 0 ||
	    image_resolve(s, &cat, arg, o, &t, e) < 0 ||
	    store_object_dir(s, "images", t.name, out->dir, sizeof(out->dir), e) < 0)
		goto out;
	snprintf(out->name, sizeof(out->name), "%s", t.name);
	out->how = t.how;
	if (t.installed && (o->if_missing || t.how == IMAGE_BY_NAME)) {
		rc = installed_result(&t, out, e);
		if (t.how == IMAGE_BY_NAME && !o->if_missing)
			out->outcome = IMAGE_UP_TO_DATE; /* imported: nowhere to pull from */
	} else if (t.how == IMAGE_BY_BUNDLE) {
		static const enum image_outcome map[] = {
			[BUNDLE_INSTALLED] = IMAGE_PULLED,
			[BUNDLE_ALREADY] = IMAGE_PRESENT,
			[BUNDLE_INSTALLED_OTHER] = IMAGE_BUNDLE_OTHER,
		};
		enum bundle_outcome bo;

		rc = image_pull_bundle(s, t.ent, t.name, NULL, o->force, &bo, e);
		if (rc == 0) {
			struct err ignore;
			struct image_meta m;

			err_init(&ignore);
			out->outcome = map[bo];
			if (image_meta_read(out->dir, &m, &ignore) == 0)
				result_from(out, &m);
			snprintf(out->digest, sizeof(out->digest), "sha256:%s", t.ent->sha256);
		}
	} else if (t.how == IMAGE_BY_DEBIAN) {
		struct image_debian_opts d = { .mirror = o->mirror,
					       .keyring = o->keyring,
					       .size = o->size,
					       .refresh = o->refresh,
					       .force = o->force,
					       .guest = o->guest,
					       .kernel = o->kernel,
					       .in_vm = o->in_vm };
		enum image_debian_outcome dout;

		rc = image_pull_debian(s, t.ent, t.name, &d, &dout, e);
		if (rc == 0) {
			struct err ignore;
			struct image_meta m;

			err_init(&ignore);
			out->outcome = dout == IMAGE_DEBIAN_BUILT ? IMAGE_PULLED : IMAGE_UP_TO_DATE;
			if (image_meta_read(out->dir, &m, &ignore) == 0)
				result_from(out, &m);
		}
	} else if (t.how == IMAGE_BY_REF) {
		rc = pull_ref(s, &t, o, out, e);
	} else {
		rc = err_set(e, EXIT_NOTFOUND, "image '%s' is not installed", arg);
	}
out:
	if (rc < 0 && strstr(e->msg, "No space left") && !strstr(e->msg, "free some space")) {
		char msg[ERR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", e->msg);
		err_set(e, EXIT_SYSTEM, "%s — disk full: free some space in %s", msg, s->home);
	}
	catalog_fini(&cat);
	return rc;
}
