/* ref.c — see ref.h. Follows distribution/reference (normalize.go,
 * regexp.go) by hand: the grammar is small and regular. */
#include "oci/ref.h"
#include "err.h"
#include "exitcode.h"
#include "http.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool has_upper(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			return true;
	return false;
}

static bool word(char c)
{
	return alnum(c) || c == '_';
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool path_component_ok(const char *p, size_t n)
{
	size_t i = 0;

	if (!n || !lower_alnum(p[0]))
		return false;
	while (i < n) {
		while (i < n && lower_alnum(p[i]))
			i++;
		if (i == n)
			return true;
		if (p[i] == '.')
			i++;
		else if (p[i] == '_')
			i += (i + 1 < n && p[i + 1] == '_') ? 2 : 1;
		else if (p[i] == '-')
			while (i < n && p[i] == '-')
				i++;
		else
			return false;
		if (i == n || !lower_alnum(p[i]))
			return false;
	}
	return true;
}

/* host[:port] with host a dotted name of [A-Za-z0-9-] labels or [IPv6]. */
static bool domain_ok(const char *d, size_t n)
{
	size_t i = 0;

	if (!n)
		return false;
	if (d[0] == '[') {
		for (i = 1; i < n && d[i] != ']'; i++)
			if (!(strchr("0123456789abcdefABCDEF:", d[i])))
				return false;
		if (i == n || i == 1)
			return false;
		i++;
	} else {
		for (;;) {
			size_t start = i;

			while (i < n && (alnum(d[i]) || d[i] == '-'))
				i++;
			if (i == start || d[start] == '-' || d[i - 1] == '-')
				return false;
			if (i < n && d[i] == '.') {
				i++;
				continue;
			}
			break;
		}
	}
	if (i == n)
		return true;
	if (d[i] != ':' || i + 1 == n)
		return false;
	for (i++; i < n; i++)
		if (d[i] < '0' || d[i] > '9')
			return false;
	return true;
}

static bool tag_ok(const char *t)
{
	size_t n = strlen(t);

	if (!n || n > LIMIT_REF_TAG || !word(t[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!word(t[i]) && t[i] != '.' && t[i] != '-')
			return false;
	return true;
}

static bool all_hex64(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	return i == DIGEST_HEX_LEN;
}

static int parse_digest(const char *d, const char *whole, struct ref *r, struct err *e)
{
	const char *colon = strchr(d, ':');

	if (!colon || colon == d)
		return err_set(e, EXIT_USAGE, "'%s': '@%s' is not a digest (want @sha256:HEX)",
			       whole, d);
	if ((size_t)(colon - d) != 6 || strncmp(d, "sha256", 6)) {
		for (const char *p = d; p < colon; p++)
			if (!alnum(*p) && !strchr("-_+.", *p))
				return err_set(e, EXIT_USAGE, "'%s': '@%s' is not a digest", whole,
					       d);
		return err_set(e, EXIT_USAGE,
			       "'%s': digest algorithm '%.*s' is not supported (use sha256)", whole,
			       (int)(colon - d), d);
	}
	if (!all_hex64(colon + 1))
		return err_set(e, EXIT_USAGE,
			       "'%s': the sha256 digest must be 64 lower-case hex digits", whole);
	snprintf(r->digest, sizeof(r->digest), "%s", d);
	return 0;
}

int ref_parse(const char *s, struct ref *r, struct err *e)
{
	char name[2 * LIMIT_REF_NAME + 2];
	const char *at, *slash, *rest;
	char *colon, *lastslash;
	size_t n, dlen;

	memset(r, 0, sizeof(*r));
	if (!*s)
		return err_set(e, EXIT_USAGE, "an image reference is empty");
	if (all_hex64(s))
		return err_set(e, EXIT_USAGE,
			       "'%s': a 64-digit hex string is an image ID, not a reference — "
			       "use NAME@sha256:%s",
			       s, s);
	at = strchr(s, '@');
	n = at ? (size_t)(at - s) : strlen(s);
	if (n >= sizeof(name) - 8)
		return err_set(e, EXIT_USAGE, "'%.64s…': reference longer than %d bytes", s,
			       LIMIT_REF_NAME);
	memcpy(name, s, n);
	name[n] = '\0';
	if (at && parse_digest(at + 1, s, r, e) < 0)
		return -1;

	/* Domain: the first component, when it looks like a host. */
	slash = strchr(name, '/');
	if (slash && (memchr(name, '.', (size_t)(slash - name)) ||
		      memchr(name, ':', (size_t)(slash - name)) ||
		      ((size_t)(slash - name) == 9 && !strncmp(name, "localhost", 9)) ||
		      has_upper(name, (size_t)(slash - name)))) {
		dlen = (size_t)(slash - name);
		if (dlen > LIMIT_REF_NAME)
			return err_set(e, EXIT_USAGE,
				       "'%.64s…': registry host longer than %d bytes", s,
				       LIMIT_REF_NAME);
		if (!domain_ok(name, dlen))
			return err_set(e, EXIT_USAGE, "'%s': '%.*s' is not a valid registry host",
				       s, (int)dlen, name);
		memcpy(r->domain, name, dlen);
		r->domain[dlen] = '\0';
		rest = slash + 1;
	} else {
		snprintf(r->domain, sizeof(r->domain), "docker.io");
		rest = name;
	}
	if (!strcmp(r->domain, "index.docker.io"))
		snprintf(r->domain, sizeof(r->domain), "docker.io");

	/* Tag: after the last ':' that follows the last '/'. */
	lastslash = strrchr(rest, '/');
	colon = strrchr(lastslash ? lastslash : rest, ':');
	if (colon) {
		*colon = '\0';
		if (!tag_ok(colon + 1))
			return err_set(e, EXIT_USAGE,
				       "'%s': '%s' is not a valid tag (letters, digits, '_', '.', "
				       "'-'; at most %d)",
				       s, colon + 1, LIMIT_REF_TAG);
		snprintf(r->tag, sizeof(r->tag), "%s", colon + 1);
	}
	if (!strcmp(r->domain, "docker.io") && !strchr(rest, '/')) {
		if (snprintf(r->path, sizeof(r->path), "library/%s", rest) >= (int)sizeof(r->path))
			return err_set(e, EXIT_USAGE, "'%s': name longer than %d bytes", s,
				       LIMIT_REF_NAME);
	} else if (snprintf(r->path, sizeof(r->path), "%s", rest) >= (int)sizeof(r->path)) {
		return err_set(e, EXIT_USAGE, "'%s': name longer than %d bytes", s, LIMIT_REF_NAME);
	}
	for (const char *p = r->path; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			return err_set(e, EXIT_USAGE, "'%s': repository name must be lowercase", s);
	for (const char *p = r->path;;) {
		size_t len = strcspn(p, "/");

		if (!path_component_ok(p, len))
			return err_set(e, EXIT_USAGE,
				       "'%s': '%.*s' is not a valid repository name component", s,
				       (int)len, p);
		if (!p[len])
			break;
		p += len + 1;
	}
	if (strlen(r->domain) + 1 + strlen(r->path) > LIMIT_REF_NAME)
		return err_set(e, EXIT_USAGE, "'%s': name longer than %d bytes", s, LIMIT_REF_NAME);
	if (!r->tag[0] && !r->digest[0])
		snprintf(r->tag, sizeof(r->tag), "latest");
	return 0;
}

int ref_format(const struct ref *r, char *out, size_t size, struct err *e)
{
	int n = snprintf(out, size, "%s/%s%s%s%s%s", r->domain, r->path, r->tag[0] ? ":" : "",
			 r->tag, r->digest[0] ? "@" : "", r->digest);

	if (n < 0 || (size_t)n >= size)
		return err_set(e, EXIT_VERIFY, "%s/%s: reference too long", r->domain, r->path);
	return 0;
}

int ref_repo(const struct ref *r, char *out, size_t size, struct err *e)
{
	int n = snprintf(out, size, "%s/%s", r->domain, r->path);

	if (n < 0 || (size_t)n >= size)
		return err_set(e, EXIT_VERIFY, "%s/%s: reference too long", r->domain, r->path);
	return 0;
}

const char *ref_api_host(const struct ref *r)
{
	return strcmp(r->domain, "docker.io") ? r->domain : "registry-1.docker.io";
}

const char *ref_object(const struct ref *r)
{
	return r->digest[0] ? r->digest : r->tag;
}

int ref_is_loopback(const struct ref *r)
{
	const char *end = r->domain[0] == '[' ? strchr(r->domain, ']') : NULL;
	size_t n = end ? (size_t)(end + 1 - r->domain) : strcspn(r->domain, ":");

	return http_host_is_loopback(r->domain, n);
}

void ref_default_name(const struct ref *r, char out[65])
{
	const char *base = strrchr(r->path, '/');

	base = base ? base + 1 : r->path;
	if (r->tag[0]) {
		int t = strlen(r->tag) < 32 ? (int)strlen(r->tag) : 32;

		snprintf(out, 65, "%.*s-%.*s", 63 - t, base, t, r->tag);
	} else
		snprintf(out, 65, "%.50s-%.12s", base, r->digest + 7);
	/* A tag may start with '_' or hold upper case: still a valid store name. */
	for (char *p = out; *p; p++)
		if (!alnum(*p) && *p != '.' && *p != '_' && *p != '-')
			*p = '_';
}
