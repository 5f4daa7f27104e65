/* main.c — the multicall dispatcher (not an applet).
 *
 * usage: banger [-qv] APPLET [ARGS...]
 *        banger [-qv] NOUN VERB [ARGS...]    (banger vm run → vm-run)
 *        banger --list | --install DIR | --version | --help
 *        APPLET [ARGS...]                    (through a symlink named APPLET
 *                                             or banger-APPLET)
 *
 * Dispatch follows busybox and toybox: the name we were called by first,
 * then the first one or two arguments. `APPLET --help` prints that applet's
 * usage; an unknown applet is a usage error (exit 2).
 */
#include "version.h"
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "log.h"
#include "path.h"

#include <archive.h>
#include <bearssl.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define HOST false
#define GUEST true

struct applet {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *usage;
	const char *summary;
	bool guest; /* runs inside the VM: its stderr is the serial console */
};

static const struct applet applets[] = {
#define APPLET(name, ident, where, summary) { name, ident##_main, ident##_usage, summary, where },
#include "applets.h"
#undef APPLET
};
#define NAPPLETS (sizeof(applets) / sizeof(applets[0]))

static const char banger_usage[] =
	"usage: banger [-qv] APPLET [ARGS...]\n"
	"       banger [-qv] NOUN VERB [ARGS...]    (banger vm run = vm-run)\n"
	"       banger --list | --install DIR | --version | --help\n"
	"\n"
	"One binary: the host CLI, the guest init and the guest agent.\n"
	"'banger APPLET --help' describes an applet.\n";

static const struct applet *find(const char *name)
{
	for (size_t i = 0; i < NAPPLETS; i++)
		if (!strcmp(applets[i].name, name))
			return &applets[i];
	return NULL;
}

/* Runs applet a with argv[0] set to its name; loud > 0 is -v, < 0 is -q. */
static int run(const struct applet *a, int argc, char **argv, int loud)
{
	log_init(a->name);
	/* A serial console is a TTY, but its log is read as text (vm logs). */
	if (a->guest)
		log_set_color(false);
	for (; loud > 0; loud--)
		log_more();
	for (; loud < 0; loud++)
		log_less();
	argv[0] = (char *)a->name;
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(a->usage, stdout);
		return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
	}
	return a->main(argc, argv);
}

static void list(void)
{
	for (size_t i = 0; i < NAPPLETS; i++)
		printf("%-14s %s\n", applets[i].name, applets[i].summary);
}

static void version(void)
{
	const curl_version_info_data *c = curl_version_info(CURLVERSION_NOW);

	printf("banger %s\n", banger_version());
	printf("libcurl %s (%s)\n", c->version, c->ssl_version ? c->ssl_version : "no TLS");
	printf("%s\n", archive_version_details());
	printf("zstd %s\n", ZSTD_versionString());
	printf("liblzma %s\n", lzma_version_string());
	printf("zlib %s\n", zlibVersion());
	printf("cJSON %s\n", cJSON_Version());
	/* BearSSL has no version call; the build records the Debian sources. */
	printf("built from Debian sources: %s\n", banger_sources());
	(void)br_sha256_init;
}

/* Links every applet into dir, pointing at this binary; an existing link is
 * replaced atomically (symlink beside it, then rename). */
static int install(const char *dir)
{
	char self[LIMIT_PATH], link[LIMIT_PATH], tmp[LIMIT_PATH];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct err e;

	err_init(&e);
	if (n < 0 || (size_t)n >= sizeof(self) - 1) {
		log_error("/proc/self/exe: cannot find this binary: %s", strerror(errno));
		return EXIT_SYSTEM;
	}
	self[n] = '\0';
	for (size_t i = 0; i < NAPPLETS; i++) {
		if (path_join(link, sizeof(link), dir, applets[i].name, &e) < 0 ||
		    path_joinf(tmp, sizeof(tmp), &e, dir, ".%s.%d", applets[i].name,
			       (int)getpid()) < 0) {
			log_error("%s", e.msg);
			return e.code;
		}
		unlink(tmp);
		if (symlink(self, tmp) < 0 || rename(tmp, link) < 0) {
			err_errno(&e, 0, "%s: cannot link", link);
			unlink(tmp);
			log_error("%s — check that %s exists and is writable", e.msg, dir);
			return e.code;
		}
	}
	return EXIT_OK;
}

/* "vm" names a noun when some applet is "vm-…"; then list its verbs. */
static bool noun_help(const char *noun)
{
	size_t len = strlen(noun);
	bool any = false;

	for (size_t i = 0; i < NAPPLETS; i++) {
		if (strncmp(applets[i].name, noun, len) || applets[i].name[len] != '-')
			continue;
		if (!any)
			fprintf(stderr, "verbs of '%s':", noun);
		fprintf(stderr, " %s", applets[i].name + len + 1);
		any = true;
	}
	if (any)
		fputc('\n', stderr);
	return any;
}

static int multiplexer(int argc, char **argv)
{
	char joined[128];
	const struct applet *a;
	int i = 1;

	log_init("banger");
	/* Global options come before the applet name; they apply to it. */
	int loud = 0;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i];

		if (!strcmp(o, "-v") || !strcmp(o, "--verbose")) {
			loud++;
		} else if (!strcmp(o, "-q") || !strcmp(o, "--quiet")) {
			loud--;
		} else if (!strcmp(o, "--list")) {
			list();
			return EXIT_OK;
		} else if (!strcmp(o, "--version")) {
			version();
			return EXIT_OK;
		} else if (!strcmp(o, "--install")) {
			if (i + 1 >= argc) {
				log_error("--install needs a directory (see 'banger --help')");
				return EXIT_USAGE;
			}
			return install(argv[i + 1]);
		} else if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
			fputs(banger_usage, stdout);
			return EXIT_OK;
		} else {
			log_error("unknown option '%s' (see 'banger --help')", o);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fputs(banger_usage, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help") && i + 1 < argc && (a = find(argv[i + 1]))) {
		fputs(a->usage, stdout);
		return EXIT_OK;
	}

	int shift = 0;
	if ((a = find(argv[i]))) {
		shift = i;
	} else if (i + 1 < argc &&
		   snprintf(joined, sizeof(joined), "%s-%s", argv[i], argv[i + 1]) <
			   (int)sizeof(joined) &&
		   (a = find(joined))) {
		shift = i + 1;
	}
	if (a)
		return run(a, argc - shift, argv + shift, loud);
	if (noun_help(argv[i]))
		log_error("%s: unknown verb '%s' (see 'banger --list')", argv[i],
			  i + 1 < argc ? argv[i + 1] : "");
	else
		log_error("unknown applet '%s' (see 'banger --list')", argv[i]);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const char *name = argc > 0 && argv[0] ? argv[0] : "banger";
	const char *slash = strrchr(name, '/');
	const struct applet *a;

	if (slash)
		name = slash + 1;
	if (!strncmp(name, "banger-", 7))
		name += 7;
	/* The kernel runs an initramfs' /init as "/init". */
	if (!strcmp(name, "init") && getpid() == 1)
		name = "initramfs";
	if ((a = find(name)))
		return run(a, argc, argv, 0);
	return multiplexer(argc, argv);
}
