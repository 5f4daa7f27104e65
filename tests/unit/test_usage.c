/* test_usage.c — options and positionals read from usage synopses. */
#include "harness.h"
#include "usage.h"

/* "NAME", "NAME=VALUE" (a value), "NAME?=VALUE" (optional), space-separated. */
static const char *render(const char *usage)
{
	static char out[1024];
	struct usage_opt o[USAGE_MAX_OPTS];
	size_t n = usage_options(usage, o, USAGE_MAX_OPTS), len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s%s%s", i ? " " : "",
					o[i].name,
					o[i].arg == USAGE_FLAG	  ? ""
					: o[i].arg == USAGE_VALUE ? "="
								  : "?=",
					o[i].value);
	return out;
}

static const char *pos(const char *usage)
{
	static char out[256];

	return usage_positionals(usage, out, sizeof(out));
}

static void options(void)
{
	CHECK_STR(render("usage: vm-run [-d] [--rm] [--name N] [--net tap|user|none] [--nat]\n"
			 "              [-- CMD...]\n\nbody -x [--not-this]\n"),
		  "-d --rm --name=N --net=tap|user|none --nat");
	CHECK_STR(render("usage: image-pull [-fqv] [--platform OS/ARCH]\n"),
		  "-f -q -v --platform=OS/ARCH");
	CHECK_STR(render("usage: kernel-list [--json] [--catalog [URL|PATH]]\n"),
		  "--json --catalog?=URL|PATH");
	/* A value not in brackets, and alternatives in parentheses. */
	CHECK_STR(render("usage: initramfs [KERNEL] -o FILE [--modules DIR]\n"),
		  "-o=FILE --modules=DIR");
	CHECK_STR(render("usage: kernel-import [-f] NAME (--vmlinux PATH | --vmlinuz PATH)\n"),
		  "-f --vmlinux=PATH --vmlinuz=PATH");
	/* Brackets inside a value, and a repeated option. */
	CHECK_STR(render("usage: agent CMD [--unix PATH | --vsock CID[:PORT]]\n"),
		  "--unix=PATH --vsock=CID[:PORT]");
	CHECK_STR(render("usage: vm-exec [-it] [-e NAME=VALUE]... NAME [--] CMD\n"),
		  "-i -t -e=NAME=VALUE");
	CHECK_STR(render("usage: x [-f] [-f]\n"), "-f");
	CHECK_STR(render("no synopsis at all"), "");
	CHECK_STR(render(""), "");
}

static void positionals(void)
{
	CHECK_STR(pos("usage: vm-exec [-it] [-e NAME=VALUE]... [-w DIR] NAME [--] CMD [ARGS...]\n"),
		  "NAME CMD ARGS...");
	CHECK_STR(pos("usage: vm-rm [-f] NAME...\n"), "NAME...");
	CHECK_STR(pos("usage: image-import [-f] NAME PATH.ext4\n"), "NAME PATH.ext4");
	/* A second synopsis line repeats the name, not a positional. */
	CHECK_STR(pos("usage: completion bash|zsh|fish\n       completion --names vms|images\n"),
		  "bash|zsh|fish");
	CHECK_STR(pos("usage: kernel-list [--catalog [URL|PATH]]\n"), "");
}

static void find(void)
{
	struct usage_opt o[USAGE_MAX_OPTS];
	size_t n = usage_options("usage: vm-stop [-f] [-t SECONDS] NAME\n", o, USAGE_MAX_OPTS);

	CHECK(n == 2);
	CHECK(usage_find(o, n, "-t") && usage_find(o, n, "-t")->arg == USAGE_VALUE);
	CHECK(!usage_find(o, n, "-q"));
	/* A full table stops adding; it never writes past max. */
	CHECK(usage_options("usage: x [-abcdef]\n", o, 3) == 3);
}

int main(void)
{
	HARNESS_BEGIN("usage");
	RUN(options);
	RUN(positionals);
	RUN(find);
	HARNESS_END();
}
