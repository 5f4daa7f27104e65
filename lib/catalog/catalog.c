/* catalog.c — see catalog.h. */
#include "catalog/catalog.h"
#include "buf.h"
#include "embed.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "http.h"
#include "path.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void catalog_init(struct catalog *c)
{
	memset(c, 0, sizeof(*c));
}

void catalog_fini(struct catalog *c)
{
	for (size_t i = 0; c->urls && i < c->n; i++)
		free(c->urls[i]);
	free(c->urls);
	free(c->entries);
	cJSON_Delete(c->doc);
	catalog_init(c);
}

const char *catalog_kind_name(enum catalog_kind k)
{
	switch (k) {
	case CATALOG_BUNDLE:
		return "bundle";
	case CATALOG_DEB:
		return "deb";
	case CATALOG_OCI:
		return "oci";
	case CATALOG_DEBIAN:
		return "debian";
	}
	return "?";
}

static bool has_scheme(const char *url)
{
	const char *p = url;

	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	       (p > url && ((*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.')))
		p++;
	return p > url && p[0] == ':' && p[1] == '/' && p[2] == '/';
}

int catalog_resolve_url(const char *base, const char *url, char *out, size_t size, struct err *e)
{
	CURLU *u;
	char *full = NULL, *scheme = NULL;
	char fbase[LIMIT_URL + 8];
	int rc = 0;

	if (strlen(url) >= LIMIT_URL)
		return err_set(e, EXIT_VERIFY, "URL longer than %d bytes", LIMIT_URL);
	if (!has_scheme(url) && !base)
		return err_set(e, EXIT_VERIFY,
			       "%s: relative URL in a catalog without a location — use an "
			       "absolute https:// URL",
			       url);
	if (base && base[0] == '/') {
		if (snprintf(fbase, sizeof(fbase), "file://%s", base) >= (int)sizeof(fbase))
			return err_set(e, EXIT_VERIFY, "%s: path too long", base);
		base = fbase;
	}
	u = curl_url();
	if (!u)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	if ((base && !has_scheme(url) &&
	     curl_url_set(u, CURLUPART_URL, base, CURLU_URLENCODE) != CURLUE_OK) ||
	    curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		rc = err_set(e, EXIT_VERIFY, "%s: not a valid URL", url);
		goto out;
	}
	if (strcmp(scheme, "https") && strcmp(scheme, "http") && strcmp(scheme, "file")) {
		rc = err_set(e, EXIT_VERIFY, "%s: unsupported URL scheme '%s' — use https://", url,
			     scheme);
		goto out;
	}
	if (strlen(full) >= size || strlen(full) >= LIMIT_URL) {
		rc = err_set(e, EXIT_VERIFY, "%s: resolved URL too long", url);
		goto out;
	}
	memcpy(out, full, strlen(full) + 1);
out:
	curl_free(full);
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

/* A string field: absent → def; present → a string of at most max bytes. */
static int field(const cJSON *o, const char *key, const char *def, size_t max, const char **out,
		 const char *where, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v || cJSON_IsNull(v)) {
		*out = def;
		if (!def)
			return err_set(e, EXIT_VERIFY, "%s: missing \"%s\"", where, key);
		return 0;
	}
	if (!cJSON_IsString(v) || !v->valuestring)
		return err_set(e, EXIT_VERIFY, "%s: \"%s\" is not a string", where, key);
	if (strlen(v->valuestring) > max)
		return err_set(e, EXIT_VERIFY, "%s: \"%s\" is longer than %zu bytes", where, key,
			       max);
	*out = v->valuestring;
	return 0;
}

/* An array of at most max simple names (package or component names). */
static int name_list(const cJSON *o, const char *key, int max, const struct cJSON **out,
		     const char *where, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key), *x;

	*out = v;
	if (!v)
		return 0;
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > max)
		return err_set(e, EXIT_VERIFY, "%s: \"%s\" must be an array of at most %d names",
			       where, key, max);
	cJSON_ArrayForEach(x, v)
	{
		if (!cJSON_IsString(x) || !path_is_simple_name(x->valuestring) ||
		    strlen(x->valuestring) > LIMIT_NAME)
			return err_set(e, EXIT_VERIFY, "%s: \"%s\" holds something not a name",
				       where, key);
	}
	return 0;
}

/* The debian kind's own fields (debian.h). */
static int parse_debian(struct catalog_entry *ent, const cJSON *o, const char *where, struct err *e)
{
	if (field(o, "variant", "minbase", LIMIT_NAME, &ent->variant, where, e) < 0 ||
	    name_list(o, "components", CATALOG_DEB_ALSO_MAX, &ent->components, where, e) < 0 ||
	    name_list(o, "packages", 256, &ent->packages, where, e) < 0)
		return -1;
	if (strcmp(ent->variant, "minbase") && strcmp(ent->variant, "essential"))
		return err_set(e, EXIT_VERIFY, "%s: variant '%s' — want minbase or essential",
			       where, ent->variant);
	return 0;
}

static int parse_entry(struct catalog *c, size_t i, const cJSON *o, const char *base, struct err *e)
{
	struct catalog_entry *ent = &c->entries[i];
	char where[LIMIT_PATH + 96];
	const char *kind, *sha, *url;
	const cJSON *size;

	snprintf(where, sizeof(where), "%s: entry %zu", c->source, i + 1);
	if (!cJSON_IsObject(o))
		return err_set(e, EXIT_VERIFY, "%s: not an object", where);
	ent->raw = o;
	if (field(o, "name", NULL, 64, &ent->name, where, e) < 0)
		return -1;
	if (!path_is_simple_name(ent->name))
		return err_set(e, EXIT_VERIFY,
			       "%s: name '%s' is not valid — use letters, digits, '.', '_', '-'",
			       where, ent->name);
	snprintf(where, sizeof(where), "%s: entry '%s'", c->source, ent->name);
	if (field(o, "kind", "bundle", 16, &kind, where, e) < 0 ||
	    field(o, "distro", "", LIMIT_CATALOG_FIELD, &ent->distro, where, e) < 0 ||
	    field(o, "arch", "x86_64", LIMIT_NAME, &ent->arch, where, e) < 0 ||
	    field(o, "kernel_version", "", LIMIT_NAME, &ent->kernel_version, where, e) < 0 ||
	    field(o, "description", "", LIMIT_CATALOG_FIELD, &ent->description, where, e) < 0)
		return -1;
	if (!path_is_simple_name(ent->arch))
		return err_set(e, EXIT_VERIFY, "%s: arch '%s' is not valid", where, ent->arch);
	if (!strcmp(kind, "bundle")) {
		ent->kind = CATALOG_BUNDLE;
		if (field(o, "url", NULL, LIMIT_URL, &url, where, e) < 0 ||
		    field(o, "sha256", NULL, 80, &sha, where, e) < 0)
			return -1;
		if (digest_parse(sha, where, ent->sha256, e) < 0)
			return -1;
		size = cJSON_GetObjectItemCaseSensitive(o, "size");
		if (!cJSON_IsNumber(size) || size->valuedouble < 1 ||
		    size->valuedouble > (double)LIMIT_DOWNLOAD ||
		    size->valuedouble != (double)(uint64_t)size->valuedouble)
			return err_set(e, EXIT_VERIFY,
				       "%s: \"size\" must be a whole number of bytes, 1 to %llu",
				       where, (unsigned long long)LIMIT_DOWNLOAD);
		ent->size = (uint64_t)size->valuedouble;
		c->urls[i] = malloc(LIMIT_URL);
		if (!c->urls[i])
			return err_set(e, EXIT_SYSTEM, "out of memory");
		if (catalog_resolve_url(base, url, c->urls[i], LIMIT_URL, e) < 0)
			return err_prefix(e, "%s", where);
		ent->url = c->urls[i];
	} else if (!strcmp(kind, "deb") || !strcmp(kind, "debian")) {
		ent->kind = strcmp(kind, "deb") ? CATALOG_DEBIAN : CATALOG_DEB;
		if (field(o, "mirror", "https://deb.debian.org/debian", LIMIT_URL, &ent->mirror,
			  where, e) < 0 ||
		    field(o, "suite", "bookworm", LIMIT_NAME, &ent->suite, where, e) < 0 ||
		    field(o, "component", "main", LIMIT_NAME, &ent->component, where, e) < 0 ||
		    field(o, "package", "linux-image-6.1.0-*-cloud-amd64", LIMIT_NAME,
			  &ent->package, where, e) < 0 ||
		    field(o, "deb_arch", "amd64", LIMIT_NAME, &ent->deb_arch, where, e) < 0)
			return -1;
		if (!path_is_simple_name(ent->suite) || !path_is_simple_name(ent->component) ||
		    !path_is_simple_name(ent->deb_arch))
			return err_set(e, EXIT_VERIFY,
				       "%s: suite, component and deb_arch must be simple names",
				       where);
		ent->also = cJSON_GetObjectItemCaseSensitive(o, "also");
		if (ent->also && !cJSON_IsArray(ent->also))
			return err_set(e, EXIT_VERIFY, "%s: \"also\" must be an array", where);
		if (cJSON_GetArraySize(ent->also) > CATALOG_DEB_ALSO_MAX)
			return err_set(e, EXIT_VERIFY, "%s: more than %d \"also\" sources", where,
				       CATALOG_DEB_ALSO_MAX);
		const cJSON *src;
		cJSON_ArrayForEach(src, ent->also)
		{
			const char *m, *su;

			if (!cJSON_IsObject(src) ||
			    field(src, "mirror", NULL, LIMIT_URL, &m, where, e) < 0 ||
			    field(src, "suite", NULL, LIMIT_NAME, &su, where, e) < 0)
				return err_set(e, EXIT_VERIFY,
					       "%s: each \"also\" source needs a \"mirror\" and a "
					       "\"suite\"",
					       where);
			if (!path_is_simple_name(su))
				return err_set(e, EXIT_VERIFY, "%s: suite '%s' is not valid", where,
					       su);
		}
		if (ent->kind == CATALOG_DEBIAN && parse_debian(ent, o, where, e) < 0)
			return -1;
		const char *star = strchr(ent->package, '*');
		if (ent->kind == CATALOG_DEB && (!star || strchr(star + 1, '*')))
			return err_set(e, EXIT_VERIFY,
				       "%s: \"package\" must hold exactly one '*' "
				       "(e.g. linux-image-6.1.0-*-cloud-amd64)",
				       where);
	} else if (!strcmp(kind, "oci")) {
		ent->kind = CATALOG_OCI;
		if (field(o, "ref", NULL, LIMIT_URL, &ent->ref, where, e) < 0)
			return -1;
		if (!*ent->ref)
			return err_set(e, EXIT_VERIFY, "%s: empty \"ref\"", where);
	} else {
		return err_set(
			e, EXIT_VERIFY,
			"%s: unknown kind '%s' — expected bundle, deb, debian or oci (a newer "
			"banger may know it)",
			where, kind);
	}
	if (!ent->url)
		ent->url = "";
	if (!ent->mirror)
		ent->mirror = ent->suite = ent->component = ent->package = ent->deb_arch = "";
	if (!ent->ref)
		ent->ref = "";
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct catalog_entry *)a)->name,
		      ((const struct catalog_entry *)b)->name);
}

int catalog_parse(struct catalog *c, const char *json, size_t len, const char *source,
		  const char *base, struct err *e)
{
	const cJSON *ver, *list, *o;
	size_t i = 0;
	int n;

	catalog_fini(c);
	snprintf(c->source, sizeof(c->source), "%s", source);
	if (len > LIMIT_JSON_DOC)
		return err_set(e, EXIT_VERIFY, "%s: catalog larger than %d bytes", source,
			       LIMIT_JSON_DOC);
	c->doc = cJSON_ParseWithLength(json, len);
	if (!c->doc)
		return err_set(e, EXIT_VERIFY, "%s: not valid JSON — check the catalog file",
			       source);
	ver = cJSON_GetObjectItemCaseSensitive(c->doc, "version");
	if (!cJSON_IsNumber(ver) || ver->valueint != 1)
		return err_set(e, EXIT_VERIFY,
			       "%s: not a version 1 catalog (want {\"version\": 1, \"entries\": "
			       "[…]})",
			       source);
	list = cJSON_GetObjectItemCaseSensitive(c->doc, "entries");
	if (!cJSON_IsArray(list))
		return err_set(e, EXIT_VERIFY, "%s: no \"entries\" array", source);
	n = cJSON_GetArraySize(list);
	if (n > LIMIT_CATALOG_ENTRIES)
		return err_set(e, EXIT_VERIFY, "%s: more than %d entries", source,
			       LIMIT_CATALOG_ENTRIES);
	c->entries = calloc((size_t)n + 1, sizeof(*c->entries));
	c->urls = calloc((size_t)n + 1, sizeof(*c->urls));
	if (!c->entries || !c->urls)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	c->n = (size_t)n;
	cJSON_ArrayForEach(o, list)
	{
		if (parse_entry(c, i, o, base, e) < 0)
			return -1;
		i++;
	}
	qsort(c->entries, c->n, sizeof(*c->entries), by_name);
	for (i = 1; i < c->n; i++)
		if (!strcmp(c->entries[i - 1].name, c->entries[i].name))
			return err_set(e, EXIT_VERIFY, "%s: entry '%s' appears twice", source,
				       c->entries[i].name);
	return 0;
}

static int load_url(struct catalog *c, const char *url, struct err *e)
{
	struct http_req req = { .url = url }; /* the default stall timeout */
	struct http_resp resp;
	struct buf body;
	int rc;

	buf_init(&body, LIMIT_JSON_DOC, "catalog");
	if (http_fetch(&req, &body, &resp, e) < 0) {
		buf_fini(&body);
		return -1;
	}
	if (resp.status != 0 && (resp.status < 200 || resp.status > 299)) {
		http_status_error(e, url, resp.status, body.data,
				  "check the catalog URL (--catalog or the environment)");
		buf_fini(&body);
		return -1;
	}
	rc = catalog_parse(c, body.data ? body.data : "", body.len, url, url, e);
	buf_fini(&body);
	return rc;
}

static int load_path(struct catalog *c, const char *path, struct err *e)
{
	char abs[LIMIT_PATH]; /* realpath needs PATH_MAX (4096) */
	char *data;
	size_t len;
	int rc;

	if (file_read_all(path, LIMIT_JSON_DOC, &data, &len, e) < 0)
		return err_prefix(e, "catalog"), -1;
	if (!realpath(path, abs)) {
		free(data);
		return err_errno(e, 0, "%s: cannot resolve", path);
	}
	rc = catalog_parse(c, data, len, path, abs, e);
	free(data);
	return rc;
}

int catalog_load(struct catalog *c, enum catalog_type type, const char *override, struct err *e)
{
	const char *env =
		getenv(type == CATALOG_KERNELS ? "BANGER_KERNEL_CATALOG" : "BANGER_IMAGE_CATALOG");
	const char *from = override && *override ? override : env && *env ? env : NULL;
	struct embedded em;

	catalog_init(c);
	if (from)
		return has_scheme(from) ? load_url(c, from, e) : load_path(c, from, e);
	em = type == CATALOG_KERNELS ? embedded_kernels_catalog() : embedded_images_catalog();
	return catalog_parse(c, em.data, em.size,
			     type == CATALOG_KERNELS ? "built-in kernels.json"
						     : "built-in images.json",
			     NULL, e);
}

const struct catalog_entry *catalog_find(const struct catalog *c, const char *name, struct err *e)
{
	struct catalog_entry key = { .name = name };
	const struct catalog_entry *ent;

	ent = c->n ? bsearch(&key, c->entries, c->n, sizeof(key), by_name) : NULL;
	if (!ent)
		err_set(e, EXIT_NOTFOUND,
			"%s: no entry '%s' in the catalog %s — 'list --catalog' shows what it "
			"holds",
			name, name, c->source);
	return ent;
}

/* Sorts the objects of a JSON array by their "name". */
static int by_json_name(const void *a, const void *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(*(cJSON *const *)a, "name");
	const cJSON *y = cJSON_GetObjectItemCaseSensitive(*(cJSON *const *)b, "name");

	return strcmp(cJSON_IsString(x) ? x->valuestring : "",
		      cJSON_IsString(y) ? y->valuestring : "");
}

static cJSON *entry_json(const struct catalog_entry *ent)
{
	static const char *const known[] = { "name", "kind",	       "distro",
					     "arch", "kernel_version", "description",
					     "url",  "sha256",	       "size" };
	cJSON *o = cJSON_CreateObject();
	const cJSON *f;
	bool ok = o != NULL;

	ok = ok && cJSON_AddStringToObject(o, "name", ent->name);
	ok = ok && cJSON_AddStringToObject(o, "kind", "bundle");
	if (ent->distro && *ent->distro)
		ok = ok && cJSON_AddStringToObject(o, "distro", ent->distro);
	ok = ok &&
	     cJSON_AddStringToObject(o, "arch", ent->arch && *ent->arch ? ent->arch : "x86_64");
	if (ent->kernel_version && *ent->kernel_version)
		ok = ok && cJSON_AddStringToObject(o, "kernel_version", ent->kernel_version);
	if (ent->description && *ent->description)
		ok = ok && cJSON_AddStringToObject(o, "description", ent->description);
	ok = ok && cJSON_AddStringToObject(o, "url", ent->url);
	ok = ok && cJSON_AddStringToObject(o, "sha256", ent->sha256);
	ok = ok && cJSON_AddNumberToObject(o, "size", (double)ent->size);
	if (ok && ent->raw) {
		cJSON_ArrayForEach(f, ent->raw)
		{
			bool dup = false;

			for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
				dup = dup || !strcmp(f->string, known[k]);
			if (!dup)
				ok = ok &&
				     cJSON_AddItemToObject(o, f->string, cJSON_Duplicate(f, true));
		}
	}
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int catalog_file_upsert(const char *path, const struct catalog_entry *ent, struct err *e)
{
	struct catalog check;
	cJSON *doc = NULL, *list, *item, *o, **items = NULL;
	char *data = NULL, *out = NULL;
	size_t len, n = 0;
	int rc = -1;

	catalog_init(&check);
	if (file_read_all(path, LIMIT_JSON_DOC, &data, &len, e) == 0) {
		/* Refuse to rewrite a file that is not a catalog already. */
		if (catalog_parse(&check, data, len, path, "file:///", e) < 0)
			goto out;
		doc = cJSON_ParseWithLength(data, len);
	} else if (e->code == EXIT_NOTFOUND) {
		doc = cJSON_Parse("{\"version\": 1, \"entries\": []}");
	} else {
		goto out;
	}
	list = cJSON_GetObjectItemCaseSensitive(doc, "entries");
	o = entry_json(ent);
	if (!doc || !list || !o) {
		cJSON_Delete(o);
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	/* Take every item out, drop the one we replace, sort, put back. */
	items = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(*items));
	if (!items) {
		cJSON_Delete(o);
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	while ((item = cJSON_DetachItemFromArray(list, 0))) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(item, "name");

		if (cJSON_IsString(nm) && !strcmp(nm->valuestring, ent->name))
			cJSON_Delete(item);
		else
			items[n++] = item;
	}
	items[n++] = o;
	qsort(items, n, sizeof(*items), by_json_name);
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(list, items[i]);
	out = cJSON_Print(doc);
	if (!out) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	len = strlen(out);
	out[len] = '\n';
	rc = file_write_atomic(path, out, len + 1, 0644, e);
out:
	free(items);
	free(out);
	free(data);
	cJSON_Delete(doc);
	catalog_fini(&check);
	return rc;
}
