/* main.c — the multicall dispatcher (not an applet).
 *
 * usage: banger [-qv] APPLET [ARGS...]
 *        banger [-qv] NOUN VERB [ARGS...]    (banger vm run → vm-run)
 *        banger --list | --install [--all] DIR | --version | --help
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
#include "usage.h"

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

const struct applet applet_table[] = {
#define APPLET(name, ident, where, summary) { name, ident##_main, ident##_usage, summary, where },
#include "applets.h"
#undef APPLET
};
const size_t applet_count = sizeof(applet_table) / sizeof(applet_table[0]);

static const char banger_usage[] =
	"usage: banger [-qv] APPLET [ARGS...]\n"
	"       banger [-qv] NOUN VERB [ARGS...]    (banger vm run = vm-run)\n"
	"       banger --list | --install [--all] DIR | --version | --help\n"
	"\n"
	"One binary: the host CLI, the guest init and the guest agent.\n"
	"Nouns: vm, image, kernel, snapshot ('banger NOUN --help' lists the verbs);\n"
	"other applets: agent, completion, doctor, initramfs ('banger --list': all).\n"
	"'banger APPLET --help' describes an applet; -q and -v also work after\n"
	"the applet's name. --install DIR links the host applets into DIR as\n"
	"banger-APPLET (banger-vm-run, …), --all the guest ones too.\n"
	"\n"
	"examples:\n"
	"  banger vm run -- cat /etc/os-release\n"
	"  banger doctor\n"
	"  banger --install ~/.local/bin\n";

/* Examples for each noun's page ('banger vm --help'). */
static const struct {
	const char *noun, *examples;
} noun_examples[] = {
	{ "image", "  banger image pull debian:bookworm\n"
		   "  banger image list --json\n"
		   "  banger image prune\n" },
	{ "kernel", "  banger kernel pull debian-cloud\n"
		    "  banger kernel list --catalog\n"
		    "  banger kernel prune\n" },
	{ "snapshot", "  banger vm snapshot web web-ready\n"
		      "  banger snapshot list\n"
		      "  banger snapshot rm web-ready\n" },
	{ "vm", "  banger vm run -d --name web\n"
		"  banger vm exec -it web -- bash\n"
		"  banger vm rm -f web\n" },
};

static const struct applet *find(const char *name)
{
	for (size_t i = 0; i < applet_count; i++)
		if (!strcmp(applet_table[i].name, name))
			return &applet_table[i];
	return NULL;
}

/* Takes the dispatcher's -q/-v (and --quiet/--verbose) out of the applet's
 * own leading options, where docker habit puts them ('vm run -q …'), unless
 * the applet's usage declares them itself. Stops where the applet's getopt
 * would: at "--" or the first word that is not an option or its value. */
static int take_loudness(const struct applet *a, int *argc, char **argv)
{
	struct usage_opt opts[USAGE_MAX_OPTS];
	size_t n = usage_options(a->usage, opts, USAGE_MAX_OPTS);
	int loud = 0, out = 1;

	for (int i = 1; i < *argc; i++) {
		const char *w = argv[i];
		const struct usage_opt *o = usage_find(opts, n, w);
		bool q = !strcmp(w, "-q") || !strcmp(w, "--quiet");
		bool v = !strcmp(w, "-v") || !strcmp(w, "--verbose");

		if ((q || v) && !usage_find(opts, n, q ? "-q" : "-v")) {
			loud += q ? -1 : 1;
			continue;
		}
		argv[out++] = argv[i];
		if (w[0] != '-' || !strcmp(w, "--")) {
			while (++i < *argc)
				argv[out++] = argv[i];
			break;
		}
		if (o && o->arg == USAGE_VALUE && i + 1 < *argc)
			argv[out++] = argv[++i];
	}
	argv[out] = NULL;
	*argc = out;
	return loud;
}

/* Runs applet a with argv[0] set to its name; loud > 0 is -v, < 0 is -q. */
static int run(const struct applet *a, int argc, char **argv, int loud)
{
	log_init(a->name);
	/* A serial console is a TTY, but its log is read as text (vm logs). */
	if (a->guest)
		log_set_color(false);
	else
		loud += take_loudness(a, &argc, argv);
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
	for (size_t i = 0; i < applet_count; i++)
		printf("%-14s %s\n", applet_table[i].name, applet_table[i].summary);
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

/* Links the host applets (all with --all) into dir as banger-NAME,
 * pointing at this binary: "doctor" or "agent" alone would clash with other
 * programs, and the guest's names (first-boot, vsock-agent) are for images.
 * An existing link is replaced atomically (symlink beside it, then rename). */
static int install(const char *dir, bool all)
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
	for (size_t i = 0; i < applet_count; i++) {
		if (applet_table[i].guest && !all)
			continue;
		if (path_joinf(link, sizeof(link), &e, dir, "banger-%s", applet_table[i].name) <
			    0 ||
		    path_joinf(tmp, sizeof(tmp), &e, dir, ".banger-%s.%d", applet_table[i].name,
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

/* "vm" names a noun when some applet is "vm-…". Its page lists the verbs
 * with their summaries, then examples; false when it is no noun. */
static bool noun_page(const char *noun, FILE *out)
{
	size_t len = strlen(noun);
	bool any = false;

	for (size_t i = 0; i < applet_count; i++) {
		if (strncmp(applet_table[i].name, noun, len) || applet_table[i].name[len] != '-')
			continue;
		if (!any)
			fprintf(out, "usage: banger %s VERB [ARGS...]\n\nverbs:\n", noun);
		fprintf(out, "  %-9s %s\n", applet_table[i].name + len + 1,
			applet_table[i].summary);
		any = true;
	}
	if (!any)
		return false;
	fprintf(out, "\n'banger %s VERB --help' describes a verb.\n", noun);
	for (size_t i = 0; i < sizeof(noun_examples) / sizeof(noun_examples[0]); i++)
		if (!strcmp(noun_examples[i].noun, noun))
			fprintf(out, "\nexamples:\n%s", noun_examples[i].examples);
	return true;
}

static bool is_help(const char *w)
{
	return !strcmp(w, "--help") || !strcmp(w, "-h") || !strcmp(w, "help");
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
			bool all = i + 1 < argc && !strcmp(argv[i + 1], "--all");

			if (i + 1 + all >= argc) {
				log_error("--install needs a directory (see 'banger --help')");
				return EXIT_USAGE;
			}
			return install(argv[i + 1 + all], all);
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
	/* help APPLET, help NOUN [VERB], NOUN help [VERB], NOUN --help */
	if (!strcmp(argv[i], "help") && i + 1 < argc) {
		i++;
		if (i + 1 < argc &&
		    snprintf(joined, sizeof(joined), "%s-%s", argv[i], argv[i + 1]) <
			    (int)sizeof(joined) &&
		    (a = find(joined)))
			return fputs(a->usage, stdout) < 0 ? EXIT_SYSTEM : EXIT_OK;
		if ((a = find(argv[i])))
			return fputs(a->usage, stdout) < 0 ? EXIT_SYSTEM : EXIT_OK;
		if (noun_page(argv[i], stdout))
			return EXIT_OK;
		log_error("no applet or noun '%s' (see 'banger --list')", argv[i]);
		return EXIT_USAGE;
	}
	if (!find(argv[i]) && i + 1 < argc && !strcmp(argv[i + 1], "help") && i + 2 < argc &&
	    snprintf(joined, sizeof(joined), "%s-%s", argv[i], argv[i + 2]) < (int)sizeof(joined) &&
	    (a = find(joined)))
		return fputs(a->usage, stdout) < 0 ? EXIT_SYSTEM : EXIT_OK;
	if (!find(argv[i]) && i + 1 < argc && is_help(argv[i + 1]) && noun_page(argv[i], stdout))
		return EXIT_OK;

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
	if (noun_page(argv[i], stderr)) {
		if (i + 1 < argc)
			log_error("%s: unknown verb '%s' (see 'banger %s --help')", argv[i],
				  argv[i + 1], argv[i]);
		else
			log_error("%s: give a verb (see 'banger %s --help')", argv[i], argv[i]);
	} else {
		log_error("unknown applet '%s' (see 'banger --list')", argv[i]);
	}
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
