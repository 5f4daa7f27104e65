/* image.c — see image.h. */
#include "oci/image.h"
#include "catalog/bundle.h"
#include "catalog/catalog.h"
#include "embed.h"
#include "ext4/ext4.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "oci/layer.h"
#include "oci/registry.h"
#include "buf.h"
#include "limits.h"
#include "path.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the run settings --------------------------------------------------- */

static int config_list(const cJSON *o, const char *key, struct strlist *l, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key), *it;

	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsArray(v))
		return err_set(e, EXIT_VERIFY, "image config: %s is not a list of strings", key);
	cJSON_ArrayForEach(it, v)
	{
		if (!cJSON_IsString(it))
			return err_set(e, EXIT_VERIFY, "image config: %s holds a non-string", key);
		if (strlist_add(l, it->valuestring, key, e) < 0)
			return err_prefix(e, "image config");
	}
	return 0;
}

static int config_str(const cJSON *o, const char *key, char *out, size_t size, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
		return err_set(e, EXIT_VERIFY, "image config: %s must be a string under %zu bytes",
			       key, size);
	memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

/* The keys of the OCI config's "config" object, as manifest.json keeps them. */
static int config_read(const cJSON *o, struct image_config *c, struct err *e)
{
	memset(c, 0, sizeof(*c));
	if (!o || cJSON_IsNull(o))
		return 0;
	if (!cJSON_IsObject(o))
		return err_set(e, EXIT_VERIFY, "image config: \"config\" is not an object");
	return config_list(o, "Env", &c->env, e) < 0 ||
			       config_list(o, "Entrypoint", &c->entrypoint, e) < 0 ||
			       config_list(o, "Cmd", &c->cmd, e) < 0 ||
			       config_str(o, "WorkingDir", c->workdir, sizeof(c->workdir), e) < 0 ||
			       config_str(o, "User", c->user, sizeof(c->user), e) < 0
		       ? -1
		       : 0;
}

int image_config_from_oci(const char *config_json, struct image_config *c, struct err *e)
{
	cJSON *doc = cJSON_Parse(config_json);
	int rc;

	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return err_set(e, EXIT_VERIFY, "image config: not a JSON object");
	}
	rc = config_read(cJSON_GetObjectItemCaseSensitive(doc, "config"), c, e);
	cJSON_Delete(doc);
	return rc;
}

static bool config_add_list(cJSON *o, const char *key, const struct strlist *l)
{
	cJSON *a;

	if (!l->n)
		return true;
	if (!(a = cJSON_AddArrayToObject(o, key)))
		return false;
	for (const char *p = strlist_next(l, NULL); p; p = strlist_next(l, p))
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(p)))
			return false;
	return true;
}

static bool config_write(cJSON *j, const struct image_config *c)
{
	cJSON *o;

	if (!c->env.n && !c->entrypoint.n && !c->cmd.n && !c->workdir[0] && !c->user[0])
		return true;
	return (o = cJSON_AddObjectToObject(j, "config")) && config_add_list(o, "Env", &c->env) &&
	       config_add_list(o, "Entrypoint", &c->entrypoint) &&
	       config_add_list(o, "Cmd", &c->cmd) &&
	       (!c->workdir[0] || cJSON_AddStringToObject(o, "WorkingDir", c->workdir)) &&
	       (!c->user[0] || cJSON_AddStringToObject(o, "User", c->user));
}

void image_now(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int image_layers_write(const char *dir, const struct oci_image *img, struct err *e)
{
	char path[LIMIT_PATH];
	struct buf b;
	int rc = -1;

	buf_init(&b, LIMIT_JSON_DOC, "layers");
	for (size_t i = 0; i < img->nlayers; i++)
		if (buf_appendf(&b, e, "%s\n", img->layers[i].digest) < 0)
			goto out;
	if (path_join(path, sizeof(path), dir, "layers", e) == 0)
		rc = file_write_atomic(path, b.data ? b.data : "", b.len, 0644, e);
out:
	buf_fini(&b);
	return rc;
}

int image_meta_write(const char *dir, const struct image_meta *m, struct err *e)
{
	cJSON *j = cJSON_CreateObject();
	char path[LIMIT_PATH], *text = NULL;
	int rc = -1;

	if (!j)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	cJSON_AddStringToObject(j, "name", m->name);
	cJSON_AddStringToObject(j, "source", m->source);
	cJSON_AddStringToObject(j, "digest", m->digest);
	if (m->index_digest[0])
		cJSON_AddStringToObject(j, "index_digest", m->index_digest);
	cJSON_AddStringToObject(j, "platform", m->platform);
	cJSON_AddNumberToObject(j, "size", (double)m->size);
	cJSON_AddStringToObject(j, "created", m->created);
	text = config_write(j, &m->config) ? cJSON_Print(j) : NULL;
	if (!text) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	if (path_join(path, sizeof(path), dir, "manifest.json", e) < 0)
		goto out;
	{
		size_t n = strlen(text);

		text[n] = '\n'; /* cJSON_Print's buffer ends in NUL; trade it for a newline */
		rc = file_write_atomic(path, text, n + 1, 0644, e);
		text[n] = '\0';
	}
out:
	free(text);
	cJSON_Delete(j);
	return rc;
}

static void copy_str(cJSON *j, const char *k, char *dst, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);

	snprintf(dst, size, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

int image_meta_read(const char *dir, struct image_meta *m, struct err *e)
{
	char path[LIMIT_PATH], *text;
	size_t len;
	cJSON *j, *v;

	memset(m, 0, sizeof(*m));
	if (path_join(path, sizeof(path), dir, "manifest.json", e) < 0 ||
	    file_read_all(path, LIMIT_JSON_DOC, &text, &len, e) < 0)
		return -1;
	j = cJSON_Parse(text);
	free(text);
	if (!j)
		return err_set(e, EXIT_VERIFY,
			       "%s: not valid JSON — remove the image and pull it again", path);
	copy_str(j, "name", m->name, sizeof(m->name));
	copy_str(j, "source", m->source, sizeof(m->source));
	copy_str(j, "digest", m->digest, sizeof(m->digest));
	copy_str(j, "index_digest", m->index_digest, sizeof(m->index_digest));
	copy_str(j, "platform", m->platform, sizeof(m->platform));
	copy_str(j, "created", m->created, sizeof(m->created));
	if (!m->created[0])
		copy_str(j, "installed", m->created, sizeof(m->created));
	if (!m->digest[0]) {
		char sha[DIGEST_HEX_LEN + 1];

		copy_str(j, "sha256", sha, sizeof(sha));
		if (sha[0])
			snprintf(m->digest, sizeof(m->digest), "sha256:%s", sha);
	}
	v = cJSON_GetObjectItemCaseSensitive(j, "size");
	m->size = cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
	if (config_read(cJSON_GetObjectItemCaseSensitive(j, "config"), &m->config, e) < 0) {
		cJSON_Delete(j);
		return err_prefix(e, "%s", path);
	}
	cJSON_Delete(j);
	return 0;
}

struct bundle_fill {
	struct bundle_src src;
};

static int fill_image(const char *staging, void *ud, cJSON *m, struct err *e)
{
	struct bundle_fill *f = ud;
	char path[LIMIT_PATH];
	cJSON *inner, *it;

	if (bundle_download(&f->src, staging, e) < 0 ||
	    path_join(path, sizeof(path), staging, "rootfs.ext4", e) < 0)
		return -1;
	if (!ext4_is_ext4(path))
		return err_set(e, EXIT_VERIFY, "%s: the bundle holds no ext4 rootfs.ext4",
			       f->src.url);
	/* Keep what the packer recorded (platform, digest…). */
	inner = bundle_read_manifest(staging, e);
	if (!inner)
		return -1;
	cJSON_ArrayForEach(it, inner)
	{
		if (!it->string || cJSON_GetObjectItemCaseSensitive(m, it->string) ||
		    !strcmp(it->string, "source") || !strcmp(it->string, "sha256") ||
		    !strcmp(it->string, "name"))
			continue;
		cJSON_AddItemToObject(m, it->string, cJSON_Duplicate(it, 1));
	}
	cJSON_Delete(inner);
	if (!cJSON_AddStringToObject(m, "source", f->src.url))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	return 0;
}

int image_pull_bundle(const struct store *s, const struct catalog_entry *ent, const char *name,
		      const char *ca_file, bool force, enum bundle_outcome *out, struct err *e)
{
	struct bundle_fill f = { .src = { .url = ent->url,
					  .sha256 = ent->sha256,
					  .size = ent->size,
					  .ca_file = ca_file,
					  .label = name } };
	cJSON *m = cJSON_CreateObject();
	int rc;

	if (!m)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	rc = bundle_install_custom(s, "images", name, ent->sha256, force, fill_image, &f, m, out,
				   e);
	cJSON_Delete(m);
	return rc;
}

int image_pack(const char *dir, const char *name, const char *arch, const char *outdir, char *file,
	       size_t fsize, char sha256[DIGEST_HEX_LEN + 1], uint64_t *size, struct err *e)
{
	static const char *const only[] = { "manifest.json", "rootfs.ext4", NULL };
	char tmp[LIMIT_PATH], dst[LIMIT_PATH];

	if (path_joinf(tmp, sizeof(tmp), e, outdir, ".%s.pack.%d.tar.zst", name, (int)getpid()) <
		    0 ||
	    bundle_pack_only(dir, only, tmp, sha256, size, e) < 0)
		return -1;
	if (snprintf(file, fsize, "%s-%s-%.12s.tar.zst", name, arch, sha256) >= (int)fsize ||
	    path_join(dst, sizeof(dst), outdir, file, e) < 0) {
		unlink(tmp);
		return err_set(e, EXIT_VERIFY, "%s: bundle name too long", name);
	}
	if (rename(tmp, dst) < 0) {
		err_errno(e, 0, "%s: cannot rename into place", dst);
		unlink(tmp);
		return -1;
	}
	return 0;
}
