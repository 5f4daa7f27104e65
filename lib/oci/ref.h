/* ref.h — OCI image references, parsed and normalised exactly as Docker does.
 *
 * "debian" → docker.io/library/debian:latest; "quay.io/a/b@sha256:…";
 * "localhost:5000/x:1"; tag and digest together ("x:1@sha256:…", pulled by
 * digest). The first component is a registry host when it holds a '.' or a
 * ':', is "localhost", or has upper-case letters; otherwise the reference is
 * on Docker Hub, whose API lives at registry-1.docker.io. Grammar from
 * distribution/reference (regexp.go). Pure functions: never block, never
 * allocate.
 */
#ifndef BANGER_REF_H
#define BANGER_REF_H

#include <stddef.h>

#include "digest.h"
#include "limits.h"

struct err;

struct ref {
	char domain[LIMIT_REF_NAME + 1];     /* "docker.io", "localhost:5000" */
	char path[LIMIT_REF_NAME + 1];	     /* "library/debian" */
	char tag[LIMIT_REF_TAG + 1];	     /* "" when only a digest was given */
	char digest[7 + DIGEST_HEX_LEN + 1]; /* "sha256:HEX" or "" */
};

/* Parses and normalises s into r. A missing tag and digest becomes
 * ":latest". Malformed text is EXIT_USAGE with a message saying which part
 * is wrong (upper case in the path, a bad tag, an unsupported digest…). */
int ref_parse(const char *s, struct ref *r, struct err *e);

/* The normalised text: "docker.io/library/debian:latest", with "@sha256:…"
 * when there is a digest (and ":tag" only when there is a tag). Fails with
 * EXIT_VERIFY when size is too small. */
int ref_format(const struct ref *r, char *out, size_t size, struct err *e);

/* The host:port to talk the registry API to: registry-1.docker.io for
 * docker.io, else the domain. Points into static storage or r. */
const char *ref_api_host(const struct ref *r);

/* "domain/path", the repository as a whole. */
int ref_repo(const struct ref *r, char *out, size_t size, struct err *e);

/* What the manifest is fetched by: the digest when there is one, else the tag. */
const char *ref_object(const struct ref *r);

/* True when the registry host is a loopback address (localhost, 127.x.y.z,
 * [::1]; see http_host_is_loopback), where plain HTTP is allowed. A name
 * such as 127.evil.example is not. */
int ref_is_loopback(const struct ref *r);

/* A store name for the image: last path component and tag
 * ("debian-bookworm"), or the first 12 hex digits of the digest when there
 * is no tag. Always a valid store name (path_is_simple_name); out must have
 * room for 65 bytes. */
void ref_default_name(const struct ref *r, char out[65]);

#endif
