/* usage.h — the options an applet's usage text declares.
 *
 * An applet's NAME_usage[] is the one place its options are written for
 * people; the dispatcher (-q/-v after the applet) and shell completion read
 * them from there rather than from a second list. The synopsis is the text
 * up to the first blank line: "[-fqv]" declares three flags, "[--name N]"
 * an option with a value, "[--catalog [URL|PATH]]" one whose value is
 * optional, "--net tap|user|none" a value from a fixed set. Pure; never
 * blocks, never allocates.
 */
#ifndef BANGER_USAGE_H
#define BANGER_USAGE_H

#include <stddef.h>

#define USAGE_MAX_OPTS 48

enum usage_arg { USAGE_FLAG, USAGE_VALUE, USAGE_OPTIONAL };

struct usage_opt {
	char name[32]; /* "-f" or "--name" */
	enum usage_arg arg;
	char value[48]; /* the value's placeholder ("NAME", "tap|user|none"), or "" */
};

/* Fills out[0..max) with the synopsis' options in order of appearance (a
 * name given twice is kept once) and returns their number. Words too long
 * for the fields are skipped. */
size_t usage_options(const char *usage, struct usage_opt *out, size_t max);

/* The synopsis' positional words after the program name, in order (NAME,
 * SRC, CMD…; options and their values left out; "..." kept on one that
 * repeats: "NAME..."), written space-separated into out. Returns out. */
char *usage_positionals(const char *usage, char *out, size_t size);

/* The option named name (exact), or NULL. */
const struct usage_opt *usage_find(const struct usage_opt *opts, size_t n, const char *name);

#endif
