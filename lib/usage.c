/* usage.c — see usage.h. */
#include "usage.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* One synopsis word without the brackets and ellipses around it. */
struct word {
	char text[64];
	bool closes;  /* it ends a bracketed group: "[-f]", "N]" */
	bool bracket; /* it began with '[': an optional value after an option */
	bool repeats; /* "NAME...": given once or more */
};

/* Splits the synopsis into words; returns their number. */
static size_t words(const char *usage, struct word *w, size_t max)
{
	const char *end = strstr(usage, "\n\n");
	size_t n = 0;

	if (!end)
		end = usage + strlen(usage);
	for (const char *p = usage; p < end && n < max;) {
		size_t len, i = 0;
		int inner = 0; /* brackets inside the word: "UDS[:PORT]" */
		const char *s;

		while (p < end && (*p == ' ' || *p == '\n' || *p == '\t'))
			p++;
		if (p >= end)
			break;
		s = p;
		while (p < end && *p != ' ' && *p != '\n' && *p != '\t')
			p++;
		len = (size_t)(p - s);
		w[n].bracket = *s == '[';
		w[n].closes = false;
		w[n].repeats = false;
		for (size_t k = 0; k < len; k++) {
			char c = s[k];

			if (c == '.' && k + 3 <= len && !strncmp(s + k, "...", 3)) {
				w[n].repeats = true;
				break;
			}
			if ((c == '[' || c == '(') && i == 0)
				continue;
			if (c == '[' || c == '(') {
				inner++;
			} else if (c == ']' || c == ')') {
				if (!inner) {
					w[n].closes = true;
					continue;
				}
				inner--;
			}
			if (i + 1 < sizeof(w[n].text))
				w[n].text[i++] = c;
		}
		w[n].text[i] = '\0';
		if (i)
			n++;
	}
	return n;
}

static bool is_option(const char *t)
{
	return t[0] == '-' && t[1] && strcmp(t, "--") && t[1] != '|';
}

/* A value placeholder: NAME, N, MiB, PATH.ext4, tap|user|none, OS/ARCH. */
static bool is_value(const struct word *w)
{
	return w->text[0] && w->text[0] != '-' && strcmp(w->text, "|");
}

const struct usage_opt *usage_find(const struct usage_opt *opts, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(opts[i].name, name))
			return &opts[i];
	return NULL;
}

static void add(struct usage_opt *out, size_t *n, size_t max, const char *name, enum usage_arg arg,
		const char *value)
{
	if (*n >= max || strlen(name) >= sizeof(out->name) || strlen(value) >= sizeof(out->value) ||
	    usage_find(out, *n, name))
		return;
	snprintf(out[*n].name, sizeof(out->name), "%s", name);
	out[*n].arg = arg;
	snprintf(out[*n].value, sizeof(out->value), "%s", value);
	(*n)++;
}

/* Whether word i (an option) takes the next word as its value. */
static bool takes_value(const struct word *w, size_t nw, size_t i)
{
	return !w[i].closes && i + 1 < nw && is_value(&w[i + 1]) && strcmp(w[i + 1].text, "usage:");
}

size_t usage_options(const char *usage, struct usage_opt *out, size_t max)
{
	struct word w[160];
	size_t nw = words(usage, w, sizeof(w) / sizeof(w[0])), n = 0;

	for (size_t i = 0; i < nw; i++) {
		const char *t = w[i].text;
		char flag[3] = "-";

		if (!is_option(t))
			continue;
		if (t[1] != '-' && strlen(t) > 2) { /* "-fqv" */
			for (const char *c = t + 1; *c; c++) {
				flag[1] = *c;
				add(out, &n, max, flag, USAGE_FLAG, "");
			}
		} else if (takes_value(w, nw, i)) {
			add(out, &n, max, t, w[i + 1].bracket ? USAGE_OPTIONAL : USAGE_VALUE,
			    w[i + 1].text);
			i++;
		} else {
			add(out, &n, max, t, USAGE_FLAG, "");
		}
	}
	return n;
}

char *usage_positionals(const char *usage, char *out, size_t size)
{
	struct word w[160];
	size_t nw = words(usage, w, sizeof(w) / sizeof(w[0])), len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < nw; i++) {
		const char *t = w[i].text;

		/* "usage: NAME" opens the synopsis, NAME alone each further line */
		if (!strcmp(t, "usage:") || !strcmp(t, "|") || !strcmp(t, "--") ||
		    (i && !strcmp(w[i - 1].text, "usage:")) || (nw > 1 && !strcmp(t, w[1].text)))
			continue;
		if (is_option(t)) {
			if ((t[1] == '-' || strlen(t) == 2) && takes_value(w, nw, i))
				i++;
			continue;
		}
		len += (size_t)snprintf(out + len, size > len ? size - len : 0, "%s%s%s",
					len ? " " : "", t, w[i].repeats ? "..." : "");
	}
	if (size && len >= size)
		out[size - 1] = '\0';
	return out;
}
