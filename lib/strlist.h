/* strlist.h — a bounded list of strings packed in one fixed buffer.
 *
 * The entries sit NUL-separated in the struct itself, so a strlist has no
 * pointers inside: structs that hold one (an image's config, a VM's
 * environment) can be copied by assignment and zeroed with memset. Used
 * for argv-like lists (Entrypoint, Cmd) and environments ("K=V").
 * Caller-owned; a zeroed struct is an empty list. Never blocks, never
 * allocates.
 */
#ifndef BANGER_STRLIST_H
#define BANGER_STRLIST_H

#include <stddef.h>

#include "limits.h"

struct err;

struct strlist {
	char buf[LIMIT_STRLIST];
	size_t len; /* bytes used in buf, the NULs included */
	int n;	    /* entries */
};

/* Appends s. EXIT_VERIFY naming `what` when the list would pass
 * LIMIT_STRLIST bytes or LIMIT_AGENT_ARGS entries; the list is unchanged. */
int strlist_add(struct strlist *l, const char *s, const char *what, struct err *e);

/* For environments: sets "K=V" (or "K" alone), replacing the entry with the
 * same K in place, else appending — so later settings override earlier
 * ones, the way docker's -e overrides the image's Env. */
int strlist_setenv(struct strlist *l, const char *kv, const char *what, struct err *e);

/* Fills out with pointers into l (NULL-terminated; out needs l->n + 1
 * slots). Returns l->n. The pointers live as long as l is unchanged. */
int strlist_ptrs(const struct strlist *l, const char **out);

/* The entry after prev (NULL: the first); NULL at the end. */
const char *strlist_next(const struct strlist *l, const char *prev);

#endif
