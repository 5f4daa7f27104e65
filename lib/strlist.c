/* strlist.c — see strlist.h. */
#include "strlist.h"
#include "err.h"
#include "exitcode.h"

#include <string.h>

int strlist_add(struct strlist *l, const char *s, const char *what, struct err *e)
{
	size_t n = strlen(s) + 1;

	if (n > sizeof(l->buf) - l->len || l->n >= LIMIT_AGENT_ARGS)
		return err_set(e, EXIT_VERIFY, "%s: more than %d bytes or %d entries", what,
			       LIMIT_STRLIST, LIMIT_AGENT_ARGS);
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->n++;
	return 0;
}

const char *strlist_next(const struct strlist *l, const char *prev)
{
	const char *p = prev ? prev + strlen(prev) + 1 : l->buf;

	return p < l->buf + l->len ? p : NULL;
}

int strlist_ptrs(const struct strlist *l, const char **out)
{
	int i = 0;

	for (const char *p = strlist_next(l, NULL); p; p = strlist_next(l, p))
		out[i++] = p;
	out[i] = NULL;
	return i;
}

static size_t key_len(const char *kv)
{
	return strcspn(kv, "=");
}

int strlist_setenv(struct strlist *l, const char *kv, const char *what, struct err *e)
{
	size_t k = key_len(kv);

	for (const char *p = strlist_next(l, NULL); p; p = strlist_next(l, p)) {
		size_t old = strlen(p) + 1, new = strlen(kv) + 1, off = (size_t)(p - l->buf);

		if (key_len(p) != k || strncmp(p, kv, k))
			continue;
		if (new > old &&new - old > sizeof(l->buf) - l->len)
			return err_set(e, EXIT_VERIFY, "%s: more than %d bytes", what,
				       LIMIT_STRLIST);
		/* Shift what follows, then write the new entry where the old was. */
		memmove(l->buf + off + new, l->buf + off + old, l->len - off - old);
		memcpy(l->buf + off, kv, new);
		l->len = l->len - old + new;
		return 0;
	}
	return strlist_add(l, kv, what, e);
}
