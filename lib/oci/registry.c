/* registry.c — see registry.h. Distribution spec:
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md,
 * token auth: https://distribution.github.io/distribution/spec/auth/token/ */
#include "oci/registry.h"
#include "base64.h"
#include "buf.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "http.h"
#include "path.h"
#include "progress.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1"
#define ACCEPT                                                                                     \
	"Accept: " MT_OCI_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST

#define TMP_PREFIX "blob-"

/* --- credentials --- */

/* Docker Hub is stored under several names. */
static bool auth_key_matches(const char *key, const char *host)
{
	const char *k = key;
	size_t n;

	if (!strncmp(k, "https://", 8))
		k += 8;
	else if (!strncmp(k, "http://", 7))
		k += 7;
	n = strcspn(k, "/");
	if (!strcmp(host, "docker.io") || !strcmp(host, "registry-1.docker.io"))
		return (n == 15 && !strncmp(k, "index.docker.io", n)) ||
		       (n == 9 && !strncmp(k, "docker.io", n)) ||
		       (n == 20 && !strncmp(k, "registry-1.docker.io", n));
	return n == strlen(host) && !strncmp(k, host, n);
}

int registry_creds_from_json(const char *json, const char *host, const char *what, char *user,
			     size_t ulen, char *pass, size_t plen, struct err *e)
{
	cJSON *doc = cJSON_Parse(json), *auths, *ent;
	int rc = 0;

	if (!doc)
		return err_set(e, EXIT_USAGE, "%s: not valid JSON — fix or remove it", what);
	auths = cJSON_GetObjectItemCaseSensitive(doc, "auths");
	if (!cJSON_IsObject(auths))
		auths = NULL;
	cJSON_ArrayForEach(ent, auths)
	{
		cJSON *a = cJSON_GetObjectItemCaseSensitive(ent, "auth");
		cJSON *u = cJSON_GetObjectItemCaseSensitive(ent, "username");
		cJSON *p = cJSON_GetObjectItemCaseSensitive(ent, "password");
		char dec[600], *colon;

		if (!ent->string || !auth_key_matches(ent->string, host))
			continue;
		if (cJSON_IsString(a) && a->valuestring[0]) {
			size_t dlen = 0;
			struct err e2;

			err_init(&e2);
			if (base64_decode(a->valuestring, strlen(a->valuestring),
					  (unsigned char *)dec, sizeof(dec) - 1, &dlen, &e2) < 0 ||
			    (dec[dlen] = '\0', !(colon = strchr(dec, ':')))) {
				rc = err_set(e, EXIT_USAGE,
					     "%s: the \"auth\" entry for %s is not base64 of "
					     "USER:PASS — log in again",
					     what, ent->string);
				break;
			}
			*colon = '\0';
			if (strlen(dec) >= ulen || strlen(colon + 1) >= plen) {
				rc = err_set(e, EXIT_USAGE, "%s: credentials for %s too long", what,
					     ent->string);
				break;
			}
			snprintf(user, ulen, "%s", dec);
			snprintf(pass, plen, "%s", colon + 1);
			rc = 1;
			break;
		}
		if (cJSON_IsString(u) && cJSON_IsString(p) && strlen(u->valuestring) < ulen &&
		    strlen(p->valuestring) < plen) {
			snprintf(user, ulen, "%s", u->valuestring);
			snprintf(pass, plen, "%s", p->valuestring);
			rc = 1;
			break;
		}
	}
	cJSON_Delete(doc);
	return rc;
}

static int creds_from_file(struct registry *r, const char *path, struct err *e)
{
	char *json;
	size_t len;
	int rc;

	if (file_read_all(path, LIMIT_JSON_DOC, &json, &len, e) < 0) {
		if (e->code == EXIT_NOTFOUND) {
			err_init(e);
			return 0;
		}
		return -1;
	}
	rc = registry_creds_from_json(json, r->ref.domain, path, r->user, sizeof(r->user), r->pass,
				      sizeof(r->pass), e);
	free(json);
	return rc;
}

static int find_creds(struct registry *r, struct err *e)
{
	const char *env = getenv("REGISTRY_AUTH_FILE");
	const char *dc = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	char path[LIMIT_PATH];
	int rc;

	if (r->opts.creds) {
		const char *colon = strchr(r->opts.creds, ':');

		if (!colon || colon == r->opts.creds)
			return err_set(e, EXIT_USAGE, "--creds: want USER:PASS");
		if ((size_t)(colon - r->opts.creds) >= sizeof(r->user) ||
		    strlen(colon + 1) >= sizeof(r->pass))
			return err_set(e, EXIT_USAGE, "--creds: too long");
		snprintf(r->user, sizeof(r->user), "%.*s", (int)(colon - r->opts.creds),
			 r->opts.creds);
		snprintf(r->pass, sizeof(r->pass), "%s", colon + 1);
		r->have_creds = true;
		return 0;
	}
	if (env && *env) {
		rc = creds_from_file(r, env, e);
		if (rc)
			return (r->have_creds = rc > 0) ? 0 : -1;
	}
	if ((dc && *dc && path_join(path, sizeof(path), dc, "config.json", e) == 0) ||
	    (home && *home && path_join(path, sizeof(path), home, ".docker/config.json", e) == 0)) {
		rc = creds_from_file(r, path, e);
		if (rc < 0)
			return -1;
		r->have_creds = rc > 0;
	}
	return 0;
}

/* --- challenge and tokens --- */

int registry_parse_challenge(const char *hdr, struct auth_challenge *c, struct err *e)
{
	const char *p = hdr;
	size_t n;

	memset(c, 0, sizeof(*c));
	while (*p == ' ')
		p++;
	n = strcspn(p, " ");
	if (!n || n >= sizeof(c->scheme))
		return err_set(e, EXIT_VERIFY, "WWW-Authenticate '%.80s': no scheme", hdr);
	memcpy(c->scheme, p, n);
	p += n;
	while (*p) {
		char key[32], val[512];
		size_t k, v = 0;

		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		k = strcspn(p, "=, ");
		if (p[k] != '=')
			return err_set(e, EXIT_VERIFY, "WWW-Authenticate '%.80s': malformed", hdr);
		snprintf(key, sizeof(key), "%.*s", (int)(k < sizeof(key) - 1 ? k : 0), p);
		p += k + 1;
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (v + 1 < sizeof(val))
					val[v++] = *p;
			}
			if (*p != '"')
				return err_set(e, EXIT_VERIFY,
					       "WWW-Authenticate '%.80s': unterminated quote", hdr);
			p++;
		} else {
			while (*p && *p != ',' && *p != ' ')
				if (v + 1 < sizeof(val))
					val[v++] = *p++;
				else
					p++;
		}
		val[v] = '\0';
		if (!strcasecmp(key, "realm"))
			snprintf(c->realm, sizeof(c->realm), "%s", val);
		else if (!strcasecmp(key, "service"))
			snprintf(c->service, sizeof(c->service), "%s", val);
		else if (!strcasecmp(key, "scope"))
			snprintf(c->scope, sizeof(c->scope), "%s", val);
	}
	return 0;
}

static void set_req(const struct registry *r, struct http_req *q, const char *url)
{
	memset(q, 0, sizeof(*q));
	q->url = url;
	q->ca_file = r->ca_file[0] ? r->ca_file : NULL;
	q->allow_http = r->allow_http;
	q->headers[0] = r->auth;
}

static int basic_header(struct registry *r, char *out, size_t size, struct err *e)
{
	char up[520], b64[800];
	int n = snprintf(up, sizeof(up), "%s:%s", r->user, r->pass);

	if (n < 0 || (size_t)n >= sizeof(up) ||
	    base64_encode(up, (size_t)n, b64, sizeof(b64)) < 0 ||
	    snprintf(out, size, "Authorization: Basic %s", b64) >= (int)size)
		return err_set(e, EXIT_USAGE, "credentials too long");
	return 0;
}

static const char *creds_hint(const struct registry *r)
{
	return r->have_creds ? "check your credentials"
			     : "the registry wants credentials: --creds USER:PASS, "
			       "$REGISTRY_AUTH_FILE or docker login";
}

/* Answers the challenge in r->challenge: sets r->auth. */
static int authenticate(struct registry *r, struct err *e)
{
	struct auth_challenge c;
	struct http_req q;
	struct http_resp resp;
	struct buf body;
	char url[LIMIT_PATH + 1024], basic[900];
	char *svc = NULL, *scope = NULL;
	cJSON *doc = NULL, *tok;
	int rc = -1;

	if (registry_parse_challenge(r->challenge, &c, e) < 0)
		return -1;
	free(r->auth);
	r->auth = NULL;
	if (!strcasecmp(c.scheme, "Basic")) {
		if (!r->have_creds)
			return err_set(e, EXIT_NETWORK, "%s: authentication required (401) — %s",
				       r->name, creds_hint(r));
		if (basic_header(r, basic, sizeof(basic), e) < 0)
			return -1;
		r->auth = strdup(basic);
		return r->auth ? 0 : err_set(e, EXIT_SYSTEM, "out of memory");
	}
	if (strcasecmp(c.scheme, "Bearer"))
		return err_set(e, EXIT_NETWORK,
			       "%s: the registry asks for '%s' authentication, which banger does "
			       "not speak (Bearer and Basic only)",
			       r->name, c.scheme);
	if (!c.realm[0])
		return err_set(e, EXIT_VERIFY, "%s: Bearer challenge without a realm", r->name);
	{
		char scopebuf[LIMIT_REF_NAME + 32];

		snprintf(scopebuf, sizeof(scopebuf), "repository:%s:pull", r->ref.path);
		svc = curl_easy_escape(NULL, c.service, 0);
		scope = curl_easy_escape(NULL, scopebuf, 0);
	}
	if (!svc || !scope) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	if (snprintf(url, sizeof(url), "%s%cservice=%s&scope=%s", c.realm,
		     strchr(c.realm, '?') ? '&' : '?', svc, scope) >= (int)sizeof(url)) {
		err_set(e, EXIT_VERIFY, "%s: token realm URL too long", r->name);
		goto out;
	}
	memset(&q, 0, sizeof(q));
	q.url = url;
	/* The registry's own CA only for a token service on the same host
	 * (Docker Hub's is auth.docker.io: the system bundle). */
	{
		const char *h = strstr(c.realm, "://");
		const char *api = ref_api_host(&r->ref);
		size_t n = strlen(api);

		if (r->ca_file[0] && h && !strncmp(h + 3, api, n) &&
		    (h[3 + n] == '/' || h[3 + n] == '\0' || h[3 + n] == '?'))
			q.ca_file = r->ca_file;
	}
	q.allow_http = r->allow_http;
	if (r->have_creds) {
		if (basic_header(r, basic, sizeof(basic), e) < 0)
			goto out;
		q.headers[0] = basic;
	}
	buf_init(&body, LIMIT_JSON_DOC, "token response");
	if (http_fetch(&q, &body, &resp, e) < 0) {
		err_prefix(e, "%s: token service", r->name);
		buf_fini(&body);
		goto out;
	}
	if (resp.status != 200) {
		http_status_error(e, c.realm, resp.status, body.data,
				  resp.status == 401 || resp.status == 403 ? creds_hint(r) : NULL);
		err_prefix(e, "%s: token service", r->name);
		buf_fini(&body);
		goto out;
	}
	doc = cJSON_Parse(body.data ? body.data : "");
	buf_fini(&body);
	tok = cJSON_GetObjectItemCaseSensitive(doc, "token");
	if (!cJSON_IsString(tok) || !tok->valuestring[0])
		tok = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
	if (!cJSON_IsString(tok) || !tok->valuestring[0]) {
		err_set(e, EXIT_VERIFY, "%s: the token service answered without a token", r->name);
		goto out;
	}
	if (strpbrk(tok->valuestring, "\r\n")) {
		err_set(e, EXIT_VERIFY, "%s: the token service sent a malformed token", r->name);
		goto out;
	}
	{
		size_t n = strlen(tok->valuestring) + 32;

		r->auth = malloc(n);
		if (!r->auth) {
			err_set(e, EXIT_SYSTEM, "out of memory");
			goto out;
		}
		snprintf(r->auth, n, "Authorization: Bearer %s", tok->valuestring);
	}
	rc = 0;
out:
	cJSON_Delete(doc);
	curl_free(svc);
	curl_free(scope);
	return rc;
}

/* GET base+path into body (bounded), answering one 401 challenge. */
static int api_get(struct registry *r, const char *path, const char *accept, struct buf *body,
		   struct http_resp *resp, struct err *e)
{
	char url[LIMIT_PATH];
	struct http_req q;

	if (path_joinf(url, sizeof(url), e, r->base, "%s", path) < 0)
		return -1;
	for (int round = 0; round < 2; round++) {
		set_req(r, &q, url);
		if (accept)
			q.headers[r->auth ? 1 : 0] = accept;
		if (http_fetch(&q, body, resp, e) < 0)
			return -1;
		if (resp->status != 401 || round || !resp->www_authenticate[0])
			break;
		snprintf(r->challenge, sizeof(r->challenge), "%s", resp->www_authenticate);
		if (authenticate(r, e) < 0)
			return -1;
	}
	return 0;
}

static void find_ca(struct registry *r)
{
	const char *dir = getenv("BANGER_CERTS_D");
	char path[LIMIT_PATH];
	struct err e;

	err_init(&e);
	r->ca_file[0] = '\0';
	if (path_joinf(path, sizeof(path), &e, dir && *dir ? dir : "/etc/docker/certs.d",
		       "%s/ca.crt", r->ref.domain) == 0 &&
	    access(path, R_OK) == 0)
		snprintf(r->ca_file, sizeof(r->ca_file), "%s", path);
}

/* GET /v2/ on base: 0 with the status, -1 on a transport failure. */
static int ping(struct registry *r, struct buf *body, struct http_resp *resp, struct err *e)
{
	struct http_req q;

	set_req(r, &q, r->base);
	return http_fetch(&q, body, resp, e);
}

int registry_open(struct registry *r, const struct ref *ref, const struct registry_opts *o,
		  struct err *e)
{
	struct http_resp resp;
	struct buf body;
	int rc;

	memset(r, 0, sizeof(*r));
	r->ref = *ref;
	r->opts = *o;
	if (!r->opts.platform)
		r->opts.platform = "linux/amd64";
	if (r->opts.parallel <= 0)
		r->opts.parallel = 3;
	if (ref_format(ref, r->name, sizeof(r->name), e) < 0)
		return -1;
	curl_global_init(CURL_GLOBAL_DEFAULT); /* once, before any thread */
	if (find_creds(r, e) < 0)
		return -1;
	find_ca(r);
	buf_init(&body, LIMIT_JSON_DOC, "registry answer");
	snprintf(r->base, sizeof(r->base), "https://%s/v2/", ref_api_host(ref));
	rc = ping(r, &body, &resp, e);
	if (rc < 0 && !ref_is_loopback(ref) && !o->insecure && e->code == EXIT_NETWORK) {
		char msg[ERR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", e->msg);
		err_set(e, EXIT_NETWORK, "%s (a registry without TLS needs --insecure)", msg);
	} else if (rc < 0 && (ref_is_loopback(ref) || o->insecure)) {
		/* A registry without TLS: allowed on loopback or when asked, and
		 * only if it answers like a registry (else the TLS error stands). */
		struct err tls = *e;

		err_init(e);
		snprintf(r->base, sizeof(r->base), "http://%s/v2/", ref_api_host(ref));
		r->allow_http = o->insecure;
		rc = ping(r, &body, &resp, e);
		if (rc < 0 || (resp.status != 200 && resp.status != 401)) {
			*e = tls;
			rc = -1;
		}
	}
	if (rc == 0 && resp.status == 401 && resp.www_authenticate[0]) {
		snprintf(r->challenge, sizeof(r->challenge), "%s", resp.www_authenticate);
		rc = authenticate(r, e);
		if (rc == 0) {
			rc = ping(r, &body, &resp, e);
			if (rc == 0 && resp.status == 401)
				rc = http_status_error(e, r->name, 401, body.data, creds_hint(r));
		}
	}
	if (rc == 0 && resp.status == 401)
		rc = http_status_error(e, r->name, 401, body.data, creds_hint(r));
	else if (rc == 0 && resp.status != 200)
		rc = http_status_error(e, r->base, resp.status, body.data,
				       resp.status == 404 ? "is this an OCI registry?" : NULL);
	buf_fini(&body);
	return rc;
}

void registry_fini(struct registry *r)
{
	free(r->auth);
	r->auth = NULL;
	explicit_bzero(r->pass, sizeof(r->pass));
}

/* --- manifests --- */

void oci_image_fini(struct oci_image *img)
{
	free(img->layers);
	free(img->config_json);
	img->layers = NULL;
	img->config_json = NULL;
	img->nlayers = 0;
}

static int desc_parse(const cJSON *j, struct oci_desc *d, const char *what, struct err *e)
{
	const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "mediaType");
	const cJSON *dg = cJSON_GetObjectItemCaseSensitive(j, "digest");
	const cJSON *sz = cJSON_GetObjectItemCaseSensitive(j, "size");
	char hex[DIGEST_HEX_LEN + 1];

	memset(d, 0, sizeof(*d));
	if (!cJSON_IsString(dg) || !cJSON_IsNumber(sz) || sz->valuedouble < 0 ||
	    sz->valuedouble > (double)LIMIT_DOWNLOAD)
		return err_set(e, EXIT_VERIFY, "%s: descriptor without a valid digest and size",
			       what);
	if (digest_parse(dg->valuestring, what, hex, e) < 0)
		return -1;
	snprintf(d->digest, sizeof(d->digest), "sha256:%s", hex);
	d->size = (uint64_t)sz->valuedouble;
	if (cJSON_IsString(mt)) {
		if (strlen(mt->valuestring) >= sizeof(d->media_type))
			return err_set(e, EXIT_VERIFY, "%s: media type too long", what);
		snprintf(d->media_type, sizeof(d->media_type), "%s", mt->valuestring);
	}
	return 0;
}

bool oci_layer_type_ok(const char *mt)
{
	static const char *const ok[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(mt, ok[i]))
			return true;
	return false;
}

int oci_manifest_parse(const char *json, struct oci_image *img, struct err *e)
{
	cJSON *doc = cJSON_Parse(json), *cfg, *layers, *l;
	int n, i = 0, rc = -1;

	if (!doc)
		return err_set(e, EXIT_VERIFY, "manifest: not valid JSON");
	cfg = cJSON_GetObjectItemCaseSensitive(doc, "config");
	layers = cJSON_GetObjectItemCaseSensitive(doc, "layers");
	if (!cJSON_IsObject(cfg) || !cJSON_IsArray(layers)) {
		err_set(e, EXIT_VERIFY, "manifest: no config or layers");
		goto out;
	}
	if (desc_parse(cfg, &img->config, "manifest config", e) < 0)
		goto out;
	n = cJSON_GetArraySize(layers);
	if (n > LIMIT_LAYERS) {
		err_set(e, EXIT_VERIFY, "manifest: %d layers, more than %d", n, LIMIT_LAYERS);
		goto out;
	}
	if (!n) {
		err_set(e, EXIT_VERIFY, "manifest: the image has no layers");
		goto out;
	}
	img->layers = calloc((size_t)n, sizeof(*img->layers));
	if (!img->layers) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	cJSON_ArrayForEach(l, layers)
	{
		char what[32];

		snprintf(what, sizeof(what), "layer %d", i + 1);
		if (desc_parse(l, &img->layers[i], what, e) < 0)
			goto out;
		if (!oci_layer_type_ok(img->layers[i].media_type)) {
			err_set(e, EXIT_VERIFY,
				"layer %d has media type '%s', not a filesystem layer banger can "
				"unpack (tar, tar+gzip, tar+zstd)",
				i + 1, img->layers[i].media_type);
			goto out;
		}
		i++;
	}
	img->nlayers = (size_t)n;
	rc = 0;
out:
	cJSON_Delete(doc);
	return rc;
}

static void split_platform(const char *p, char *os, char *arch, char *variant, size_t size)
{
	size_t a = strcspn(p, "/");

	snprintf(os, size, "%.*s", (int)a, p);
	p += a;
	if (*p)
		p++;
	a = strcspn(p, "/");
	snprintf(arch, size, "%.*s", (int)a, p);
	p += a;
	if (*p)
		p++;
	snprintf(variant, size, "%s", p);
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

int oci_index_select(const char *json, const char *platform, struct oci_desc *out, struct err *e)
{
	cJSON *doc = cJSON_Parse(json), *ms, *m;
	char os[32], arch[32], variant[32], avail[300] = "";
	size_t alen = 0;
	int rc = -1;
	bool found = false;

	if (!doc)
		return err_set(e, EXIT_VERIFY, "index: not valid JSON");
	split_platform(platform, os, arch, variant, sizeof(os));
	ms = cJSON_GetObjectItemCaseSensitive(doc, "manifests");
	if (!cJSON_IsArray(ms)) {
		err_set(e, EXIT_VERIFY, "index: no manifests");
		goto out;
	}
	cJSON_ArrayForEach(m, ms)
	{
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "platform");
		const char *mos = jstr(p, "os"), *march = jstr(p, "architecture");
		const char *mvar = jstr(p, "variant");

		if (!*mos || !strcmp(mos, "unknown"))
			continue; /* attestations and the like */
		if (!strcmp(mos, os) && !strcmp(march, arch) &&
		    (!strcmp(mvar, variant) ||
		     (!*variant && (!*mvar || (!strcmp(arch, "arm64") && !strcmp(mvar, "v8")))))) {
			if (desc_parse(m, out, "index entry", e) < 0)
				goto out;
			found = true;
			break;
		}
		if (alen < sizeof(avail) - 1) {
			int n = snprintf(avail + alen, sizeof(avail) - alen, "%s%s/%s%s%s",
					 alen ? ", " : "", mos, march, *mvar ? "/" : "", mvar);

			alen = n > 0 && alen + (size_t)n < sizeof(avail) ? alen + (size_t)n
									 : sizeof(avail) - 1;
		}
	}
	if (!found) {
		err_set(e, EXIT_NOTFOUND,
			"no image for platform %s (available: %s) — use --platform", platform,
			avail[0] ? avail : "none");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(doc);
	return rc;
}

int oci_config_platform(const char *json, const char *want, char *platform, size_t size,
			struct err *e)
{
	cJSON *cfg = cJSON_Parse(json);
	char wos[32], warch[32], wvar[32];
	const char *os, *arch, *var;
	int rc = 0;

	if (!cfg)
		return err_set(e, EXIT_VERIFY, "the image config is not valid JSON");
	os = jstr(cfg, "os");
	arch = jstr(cfg, "architecture");
	var = jstr(cfg, "variant");
	split_platform(want, wos, warch, wvar, sizeof(wos));
	if (snprintf(platform, size, "%s/%s%s%s", *os ? os : "?", *arch ? arch : "?",
		     *var ? "/" : "", var) >= (int)size)
		rc = err_set(e, EXIT_VERIFY,
			     "the image config's os/architecture is longer than %zu bytes",
			     size - 1);
	else if ((*os && strcmp(os, wos)) || (*arch && strcmp(arch, warch)))
		rc = err_set(e, EXIT_NOTFOUND, "the image is for %s, not %s — use --platform %s/%s",
			     platform, want, os, arch);
	cJSON_Delete(cfg);
	return rc;
}

/* The media type of a manifest: its own field, else the Content-Type. */
static void media_type_of(const char *json, const char *ctype, char *out, size_t size)
{
	cJSON *doc = cJSON_Parse(json);
	const char *mt = jstr(doc, "mediaType");

	if (*mt)
		snprintf(out, size, "%s", mt);
	else if (ctype && *ctype)
		snprintf(out, size, "%.*s", (int)strcspn(ctype, "; "), ctype);
	else if (cJSON_GetObjectItemCaseSensitive(doc, "manifests"))
		snprintf(out, size, "%s", MT_OCI_INDEX);
	else
		snprintf(out, size, "%s", MT_OCI_MANIFEST);
	cJSON_Delete(doc);
}

/* Fetches manifest `object` (tag or digest), verifies it, and returns its
 * body (heap) and digest. want_size is checked when non-zero. */
static int fetch_manifest(struct registry *r, const char *object, uint64_t want_size, char **json,
			  char digest[OCI_DIGEST_MAX], char *mtype, size_t mtsize, struct err *e)
{
	struct http_resp resp;
	struct buf body;
	struct sha256 h;
	char hex[DIGEST_HEX_LEN + 1], path[LIMIT_PATH], want[DIGEST_HEX_LEN + 1];
	int rc = -1;

	buf_init(&body, LIMIT_JSON_DOC, "manifest");
	if (path_joinf(path, sizeof(path), e, r->ref.path, "manifests/%s", object) < 0 ||
	    api_get(r, path, ACCEPT, &body, &resp, e) < 0)
		goto out;
	if (resp.status != 200) {
		const char *hint = resp.status == 404 ? "check the name and tag"
				   : resp.status == 401 || resp.status == 403 ? creds_hint(r)
									      : NULL;

		http_status_error(e, r->name, resp.status, body.data, hint);
		goto out;
	}
	sha256_init(&h);
	sha256_update(&h, body.data ? body.data : "", body.len);
	sha256_hex(&h, hex);
	if (!strncmp(object, "sha256:", 7) && strcmp(object + 7, hex)) {
		err_set(e, EXIT_VERIFY,
			"%s: manifest %s does not match its digest (got sha256:%s) — the registry "
			"or a proxy altered it",
			r->name, object, hex);
		goto out;
	}
	if (!strncmp(resp.digest, "sha256:", 7) &&
	    (digest_parse(resp.digest, "Docker-Content-Digest", want, e) < 0 ||
	     strcmp(want, hex))) {
		err_set(e, EXIT_VERIFY,
			"%s: manifest does not match the registry's Docker-Content-Digest %s (got "
			"sha256:%s)",
			r->name, resp.digest, hex);
		goto out;
	}
	if (want_size && want_size != body.len) {
		err_set(e, EXIT_VERIFY, "%s: manifest %s is %zu bytes, the index says %llu",
			r->name, object, body.len, (unsigned long long)want_size);
		goto out;
	}
	snprintf(digest, OCI_DIGEST_MAX, "sha256:%s", hex);
	media_type_of(body.data ? body.data : "", resp.content_type, mtype, mtsize);
	*json = buf_steal(&body, NULL);
	rc = 0;
out:
	buf_fini(&body);
	return rc;
}

/* Small blobs (the config) fetched whole and verified. */
static int fetch_small_blob(struct registry *r, const struct oci_desc *d, char **out, struct err *e)
{
	struct http_resp resp;
	struct buf body;
	struct sha256 h;
	char hex[DIGEST_HEX_LEN + 1], path[LIMIT_PATH];
	int rc = -1;

	if (d->size > LIMIT_JSON_DOC)
		return err_set(e, EXIT_VERIFY, "%s: config blob of %llu bytes is too large",
			       r->name, (unsigned long long)d->size);
	buf_init(&body, LIMIT_JSON_DOC, "config blob");
	if (path_joinf(path, sizeof(path), e, r->ref.path, "blobs/%s", d->digest) < 0 ||
	    api_get(r, path, NULL, &body, &resp, e) < 0)
		goto out;
	if (resp.status != 200) {
		http_status_error(e, r->name, resp.status, body.data, NULL);
		err_prefix(e, "config %s", d->digest);
		goto out;
	}
	sha256_init(&h);
	sha256_update(&h, body.data ? body.data : "", body.len);
	sha256_hex(&h, hex);
	if (strcmp(d->digest + 7, hex) || body.len != d->size) {
		err_set(e, EXIT_VERIFY, "%s: config %s does not match its digest or size", r->name,
			d->digest);
		goto out;
	}
	*out = buf_steal(&body, NULL);
	rc = 0;
out:
	buf_fini(&body);
	return rc;
}

int registry_resolve(struct registry *r, struct oci_image *img, struct err *e)
{
	char *json = NULL, digest[OCI_DIGEST_MAX], mt[128], object[OCI_DIGEST_MAX + 130];
	uint64_t want_size = 0;
	int rc = -1;

	memset(img, 0, sizeof(*img));
	snprintf(object, sizeof(object), "%s", ref_object(&r->ref));
	for (int depth = 0;; depth++) {
		if (fetch_manifest(r, object, want_size, &json, digest, mt, sizeof(mt), e) < 0)
			return -1;
		if (strcmp(mt, MT_OCI_INDEX) && strcmp(mt, MT_DOCKER_LIST))
			break;
		struct oci_desc d;

		if (depth >= 2) {
			free(json);
			return err_set(e, EXIT_VERIFY, "%s: indexes nested too deep", r->name);
		}
		if (!depth)
			snprintf(img->index_digest, sizeof(img->index_digest), "%s", digest);
		if (oci_index_select(json, r->opts.platform, &d, e) < 0) {
			free(json);
			return err_prefix(e, "%s", r->name);
		}
		free(json);
		json = NULL;
		snprintf(object, sizeof(object), "%s", d.digest);
		want_size = d.size;
	}
	if (!strncmp(mt, MT_DOCKER_V1, strlen(MT_DOCKER_V1))) {
		err_set(e, EXIT_VERIFY,
			"%s: a Docker schema 1 manifest — not supported; re-push the image with a "
			"current docker, podman or skopeo",
			r->name);
		goto out;
	}
	if (strcmp(mt, MT_OCI_MANIFEST) && strcmp(mt, MT_DOCKER_MANIFEST)) {
		err_set(e, EXIT_VERIFY,
			"%s: unknown manifest media type '%s' — banger pulls OCI and Docker schema "
			"2 "
			"images",
			r->name, mt);
		goto out;
	}
	snprintf(img->manifest_digest, sizeof(img->manifest_digest), "%s", digest);
	snprintf(img->media_type, sizeof(img->media_type), "%s", mt);
	if (oci_manifest_parse(json, img, e) < 0) {
		err_prefix(e, "%s", r->name);
		goto out;
	}
	if (fetch_small_blob(r, &img->config, &img->config_json, e) < 0)
		goto out;
	if (oci_config_platform(img->config_json, r->opts.platform, img->platform,
				sizeof(img->platform), e) < 0) {
		err_prefix(e, "%s", r->name);
		goto out;
	}
	rc = 0;
out:
	free(json);
	return rc;
}

/* --- blobs --- */

enum layer_phase { LAYER_PENDING, LAYER_FETCHING, LAYER_DONE };

struct layer_state {
	enum layer_phase phase;
	char path[LIMIT_PATH]; /* the temporary while fetching, then the blob */
	/* A blob found in the cache is trusted only once the bytes the reader
	 * takes anyway have been hashed (a disk can rot a file in place). */
	bool cached;
	bool verified, evicted; /* it matched; it did not, and was removed */
	struct sha256 h;
	uint64_t hashed; /* bytes of it hashed so far, from the start */
};

struct blob_fetch {
	struct registry *r;
	const struct oci_image *img;
	const char *blob_dir, *tmp_dir;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* any layer made progress, finished or failed */
	size_t next;	     /* next layer to take */
	bool failed;
	struct err err; /* the first failure */
	struct progress prog;
	uint64_t fetched;
	struct layer_state *layers;
	pthread_t th[8];
	int nth;
};

static bool job_failed(struct blob_fetch *j)
{
	bool f;

	pthread_mutex_lock(&j->mu);
	f = j->failed;
	pthread_mutex_unlock(&j->mu);
	return f;
}

static int fetch_one(struct blob_fetch *j, size_t li, char *chunk, size_t csize, struct err *e)
{
	struct registry *r = j->r;
	const struct oci_desc *d = &j->img->layers[li];
	struct layer_state *ls = &j->layers[li];
	char dst[LIMIT_PATH], tmp[LIMIT_PATH], url[LIMIT_PATH], hex[DIGEST_HEX_LEN + 1];
	struct http_req q;
	struct http_resp resp;
	struct http_stream *s = NULL;
	struct sha256 h;
	uint64_t got = 0;
	char *auth = NULL;
	ssize_t n;
	int fd = -1, rc = -1;

	if (path_join(dst, sizeof(dst), j->blob_dir, d->digest + 7, e) < 0)
		return -1;
	if (path_joinf(tmp, sizeof(tmp), e, j->tmp_dir, TMP_PREFIX "%.16s.%d.%lx", d->digest + 7,
		       (int)getpid(), (unsigned long)pthread_self()) < 0 ||
	    path_joinf(url, sizeof(url), e, r->base, "%s/blobs/%s", r->ref.path, d->digest) < 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return err_errno(e, 0, "%s: cannot create", tmp);
	pthread_mutex_lock(&j->mu);
	snprintf(ls->path, sizeof(ls->path), "%s", tmp);
	ls->phase = LAYER_FETCHING;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->mu);
	/* Each request holds its own copy of the Authorization header, so a
	 * token refreshed by another thread never pulls it from under us. */
	for (int round = 0;; round++) {
		pthread_mutex_lock(&j->mu);
		free(auth);
		auth = r->auth ? strdup(r->auth) : NULL;
		pthread_mutex_unlock(&j->mu);
		set_req(r, &q, url);
		q.headers[0] = auth;
		s = http_stream_open(&q, &resp, e);
		if (s || round || resp.status != 401 || !resp.www_authenticate[0])
			break;
		/* A Bearer token that expired during a long pull: get a new one
		 * (once, unless another thread already did). */
		pthread_mutex_lock(&j->mu);
		if (!r->auth || !auth || !strcmp(r->auth, auth)) {
			snprintf(r->challenge, sizeof(r->challenge), "%s", resp.www_authenticate);
			if (authenticate(r, e) < 0) {
				pthread_mutex_unlock(&j->mu);
				break;
			}
		}
		pthread_mutex_unlock(&j->mu);
	}
	if (!s) {
		err_prefix(e, "%s: layer %s", r->name, d->digest);
		goto out;
	}
	sha256_init(&h);
	while ((n = http_stream_read(s, chunk, csize, e)) > 0) {
		got += (uint64_t)n;
		if (got > d->size) {
			err_set(e, EXIT_VERIFY,
				"%s: layer %s is larger than the %llu bytes the manifest says",
				r->name, d->digest, (unsigned long long)d->size);
			goto out;
		}
		sha256_update(&h, chunk, (size_t)n);
		if (file_write_all(fd, chunk, (size_t)n, tmp, e) < 0) {
			if (strstr(e->msg, "No space left"))
				err_set(e, EXIT_SYSTEM,
					"%s: disk full while downloading layer %s — free some "
					"space "
					"(or set BANGER_HOME elsewhere)",
					j->tmp_dir, d->digest);
			goto out;
		}
		pthread_mutex_lock(&j->mu);
		progress_add(&j->prog, (uint64_t)n);
		j->fetched += (uint64_t)n;
		pthread_cond_broadcast(&j->cond);
		pthread_mutex_unlock(&j->mu);
		if (job_failed(j)) {
			err_set(e, EXIT_SYSTEM, "stopped");
			goto out;
		}
	}
	if (n < 0) {
		err_prefix(e, "%s: layer %s", r->name, d->digest);
		goto out;
	}
	sha256_hex(&h, hex);
	if (got != d->size || strcmp(hex, d->digest + 7)) {
		err_set(e, EXIT_VERIFY,
			"%s: layer %s does not match its digest (got sha256:%s, %llu bytes) — the "
			"registry or a proxy corrupted it",
			r->name, d->digest, hex, (unsigned long long)got);
		goto out;
	}
	if (fsync(fd) < 0) {
		err_errno(e, 0, "%s: fsync", tmp);
		goto out;
	}
	close(fd);
	fd = -1;
	pthread_mutex_lock(&j->mu);
	if (rename(tmp, dst) < 0) {
		pthread_mutex_unlock(&j->mu);
		err_errno(e, 0, "%s: cannot rename into the blob cache", dst);
		goto out;
	}
	snprintf(ls->path, sizeof(ls->path), "%s", dst);
	ls->phase = LAYER_DONE;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->mu);
	rc = 0;
out:
	http_stream_free(s);
	free(auth);
	if (fd >= 0)
		close(fd);
	/* On failure the temporary stays until fetch_worker has published the
	 * failure: a reader that saw LAYER_FETCHING may still be opening it. */
	return rc;
}

static void *fetch_worker(void *arg)
{
	struct blob_fetch *j = arg;
	size_t csize = 256 * 1024;
	char *chunk = malloc(csize);
	struct err e;

	err_init(&e);
	for (;;) {
		size_t i;

		pthread_mutex_lock(&j->mu);
		while (j->next < j->img->nlayers && j->layers[j->next].phase == LAYER_DONE)
			j->next++; /* cached */
		i = j->next++;
		if (!chunk && !j->failed) {
			j->failed = true;
			err_set(&j->err, EXIT_SYSTEM, "out of memory");
		}
		if (j->failed || i >= j->img->nlayers) {
			pthread_cond_broadcast(&j->cond);
			pthread_mutex_unlock(&j->mu);
			break;
		}
		pthread_mutex_unlock(&j->mu);
		if (fetch_one(j, i, chunk, csize, &e) < 0) {
			pthread_mutex_lock(&j->mu);
			if (!j->failed) {
				j->failed = true;
				j->err = e;
			}
			/* Now no reader opens it any more: drop the unverified bytes. */
			if (j->layers[i].phase == LAYER_FETCHING)
				unlink(j->layers[i].path);
			pthread_cond_broadcast(&j->cond);
			pthread_mutex_unlock(&j->mu);
			break;
		}
	}
	free(chunk);
	return NULL;
}

struct blob_fetch *registry_fetch_start(struct registry *r, const struct oci_image *img,
					const char *blob_dir, const char *tmp_dir, struct err *e)
{
	struct blob_fetch *j = calloc(1, sizeof(*j));
	int nth = r->opts.parallel > 8 ? 8 : r->opts.parallel;
	uint64_t missing = 0;

	if (!j || !(j->layers = calloc(img->nlayers, sizeof(*j->layers)))) {
		free(j);
		err_set(e, EXIT_SYSTEM, "out of memory");
		return NULL;
	}
	j->r = r;
	j->img = img;
	j->blob_dir = blob_dir;
	j->tmp_dir = tmp_dir;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cond, NULL);
	err_init(&j->err);
	for (size_t i = 0; i < img->nlayers; i++) {
		struct layer_state *ls = &j->layers[i];
		struct stat st;

		if (path_join(ls->path, sizeof(ls->path), blob_dir, img->layers[i].digest + 7, e) <
		    0) {
			free(j->layers);
			free(j);
			return NULL;
		}
		/* Only verified blobs are ever renamed in, but a disk can rot one
		 * since: present is used, and checked as it is read
		 * (registry_layer_check). */
		if (stat(ls->path, &st) == 0 && S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size == img->layers[i].size) {
			ls->phase = LAYER_DONE;
			ls->cached = true;
			sha256_init(&ls->h);
		} else
			missing += img->layers[i].size;
	}
	progress_init(&j->prog, "layers", missing);
	if (!r->opts.progress)
		j->prog.active = false;
	for (int i = 0; i < nth && missing; i++) {
		if (pthread_create(&j->th[i], NULL, fetch_worker, j))
			break;
		j->nth++;
	}
	if (missing && !j->nth) {
		fetch_worker(j); /* no threads: fetch here, in full */
	}
	return j;
}

int registry_layer_open(struct blob_fetch *j, size_t i, struct err *e)
{
	int fd = -1;

	pthread_mutex_lock(&j->mu);
	while (!j->failed && j->layers[i].phase == LAYER_PENDING)
		pthread_cond_wait(&j->cond, &j->mu);
	if (j->failed) {
		*e = j->err;
	} else {
		/* Under the lock: the worker cannot rename it away meanwhile. */
		fd = open(j->layers[i].path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			err_errno(e, 0, "%s: cannot open", j->layers[i].path);
	}
	pthread_mutex_unlock(&j->mu);
	return fd;
}

/* A cached layer's bytes, as the reader takes them in order, into its hash. */
static void hash_cached(struct blob_fetch *j, size_t i, uint64_t off, const void *buf, ssize_t got)
{
	struct layer_state *ls = &j->layers[i];

	if (got > 0 && ls->cached && off == ls->hashed) {
		sha256_update(&ls->h, buf, (size_t)got);
		ls->hashed += (uint64_t)got;
	}
}

ssize_t registry_layer_read(struct blob_fetch *j, size_t i, int fd, uint64_t off, void *buf,
			    size_t n, struct err *e)
{
	if (j->layers[i].cached) {
		ssize_t got;

		while ((got = pread(fd, buf, n, (off_t)off)) < 0 && errno == EINTR) {
		}
		if (got < 0)
			return err_errno(e, 0, "reading layer %zu", i + 1);
		hash_cached(j, i, off, buf, got);
		return got;
	}
	for (;;) {
		ssize_t got = pread(fd, buf, n, (off_t)off);
		bool done;

		if (got < 0 && errno == EINTR)
			continue;
		if (got != 0)
			return got < 0 ? err_errno(e, 0, "reading layer %zu", i + 1) : got;
		pthread_mutex_lock(&j->mu);
		done = j->layers[i].phase == LAYER_DONE;
		if (!done && !j->failed) {
			/* At the end of what has arrived: wait for more. Recheck the
			 * file first — the writer may have appended since pread. */
			struct stat st;

			if (fstat(fd, &st) == 0 && (uint64_t)st.st_size > off) {
				pthread_mutex_unlock(&j->mu);
				continue;
			}
			pthread_cond_wait(&j->cond, &j->mu);
		}
		if (j->failed && !done) {
			*e = j->err;
			pthread_mutex_unlock(&j->mu);
			return -1;
		}
		pthread_mutex_unlock(&j->mu);
		if (done) {
			got = pread(fd, buf, n, (off_t)off); /* the tail, if any */
			return got < 0 ? err_errno(e, 0, "reading layer %zu", i + 1) : got;
		}
	}
}

int registry_layer_check(struct blob_fetch *j, size_t i, int fd, struct err *e)
{
	struct layer_state *ls = &j->layers[i];
	const struct oci_desc *d = &j->img->layers[i];
	char buf[64 * 1024], hex[DIGEST_HEX_LEN + 1];
	ssize_t got;

	if (!ls->cached || ls->verified)
		return 0;
	if (ls->evicted)
		return err_set(e, EXIT_VERIFY,
			       "%s: the cached layer %s no longer matches its digest", j->r->name,
			       d->digest);
	/* What the unpacker did not need (tar padding, a compressor's tail). */
	while ((got = pread(fd, buf, sizeof(buf), (off_t)ls->hashed)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return err_errno(e, 0, "reading layer %zu", i + 1);
		hash_cached(j, i, ls->hashed, buf, got);
	}
	sha256_hex(&ls->h, hex);
	if (ls->hashed == d->size && !strcmp(hex, d->digest + 7)) {
		ls->verified = true;
		return 0;
	}
	/* Never used again: the next fetch of this image downloads it afresh. */
	unlink(ls->path);
	ls->evicted = true;
	return err_set(e, EXIT_VERIFY,
		       "%s: the cached layer %s no longer matches its digest (got sha256:%.12s…) — "
		       "removed from the cache; it is downloaded again",
		       j->r->name, d->digest, hex);
}

bool registry_layer_evicted(const struct blob_fetch *j, size_t i)
{
	return j->layers[i].evicted;
}

int registry_layer_wait(struct blob_fetch *j, size_t i, struct err *e)
{
	int rc = 0;

	pthread_mutex_lock(&j->mu);
	while (!j->failed && j->layers[i].phase != LAYER_DONE)
		pthread_cond_wait(&j->cond, &j->mu);
	if (j->layers[i].phase != LAYER_DONE) {
		*e = j->err;
		rc = -1;
	}
	pthread_mutex_unlock(&j->mu);
	return rc;
}

int registry_fetch_finish(struct blob_fetch *j, bool abort, uint64_t *fetched, struct err *e)
{
	int rc = 0;

	if (!j)
		return 0;
	if (abort) {
		pthread_mutex_lock(&j->mu);
		if (!j->failed) {
			j->failed = true;
			err_set(&j->err, EXIT_SYSTEM, "stopped");
		}
		pthread_cond_broadcast(&j->cond);
		pthread_mutex_unlock(&j->mu);
	}
	for (int i = 0; i < j->nth; i++)
		pthread_join(j->th[i], NULL);
	progress_fini(&j->prog);
	if (fetched)
		*fetched = j->fetched;
	if (j->failed && !abort) {
		*e = j->err;
		rc = -1;
	}
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->mu);
	free(j->layers);
	free(j);
	return rc;
}

void registry_sweep_tmp(const char *tmp_dir)
{
	DIR *d = opendir(tmp_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *dot;
		long pid;

		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) ||
		    !(dot = strchr(de->d_name + strlen(TMP_PREFIX), '.')))
			continue;
		pid = strtol(dot + 1, NULL, 10);
		if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno == EPERM)
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}
