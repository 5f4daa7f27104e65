/* kernel-pull — download a verified guest kernel from the kernel catalog.
 *
 * Its usage, the text --help prints, is kernel_pull_usage[] below; the formats
 * and protocols are in docs/kernel-catalog.md.
 */
#include "applet.h"
#include "catalog/bundle.h"
#include "err.h"
#include "exitcode.h"
#include "kernel/kernel.h"
#include "log.h"
#include "store.h"
#include "xfuncs.h"

#include <stdio.h>
#include <string.h>

const char kernel_pull_usage[] =
	"usage: kernel-pull [-fqv] [--catalog URL|PATH] [--mirror URL] NAME\n"
	"\n"
	"Installs the catalog entry NAME as BANGER_HOME/kernels/NAME: a tar.zst\n"
	"bundle checked against the catalog's sha256 and size, or for a deb entry\n"
	"the newest matching Debian kernel package from the mirror, checked\n"
	"against the mirror's index. Nothing is installed unless every byte\n"
	"checks out; pulling an installed kernel again is a quick no-op.\n"
	"\n"
	"  -f, --force       download and install again\n"
	"  --catalog SRC     catalog URL or file (default: $BANGER_KERNEL_CATALOG,\n"
	"                    else the built-in catalog)\n"
	"  --mirror URL      Debian mirror for deb entries (default: the entry's,\n"
	"                    https://deb.debian.org/debian)\n"
	"\n"
	"Certificates: $SSL_CERT_FILE, else the system bundle.\n"
	"Exit: 0 installed (or already), 4 network, 5 verification failed,\n"
	"6 system, 7 no such entry, 8 busy. See docs/kernel-catalog.md.\n"
	"\n"
	"examples:\n"
	"  banger kernel pull debian-cloud\n"
	"  banger kernel pull --catalog ./kernels.json mykernel\n";

static struct {
	const char *name;
	struct kernel_pull_opts opts;
} pull;

int kernel_pull_main(int argc, char **argv)
{
	static const char *const said[] = {
		[BUNDLE_INSTALLED] = "installed",
		[BUNDLE_ALREADY] = "already installed",
		[BUNDLE_INSTALLED_OTHER] = "installed by another banger",
	};
	enum bundle_outcome outcome;
	struct store st;
	struct err e;
	char ver[LIMIT_NAME + 1];

	err_init(&e);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-f") || !strcmp(a, "--force"))
			pull.opts.force = true;
		else if (!strcmp(a, "-q"))
			log_less();
		else if (!strcmp(a, "-v"))
			log_more();
		else if (!strcmp(a, "--catalog") && i + 1 < argc)
			pull.opts.catalog = argv[++i];
		else if (!strcmp(a, "--mirror") && i + 1 < argc)
			pull.opts.mirror = argv[++i];
		else if (a[0] == '-')
			die_usage("unknown option or missing value: %s", a);
		else if (pull.name)
			die_usage("one kernel at a time (got %s and %s)", pull.name, a);
		else
			pull.name = a;
	}
	if (!pull.name)
		die_usage("which kernel? 'kernel-list --catalog' shows what can be pulled");
	if (store_init(&st, &e) < 0 || kernel_pull(&st, pull.name, &pull.opts, &outcome, &e) < 0)
		die_err(&e);
	kernel_installed_version(&st, pull.name, ver, sizeof(ver));
	printf("%s: %s%s%s%s\n", pull.name, said[outcome], ver[0] ? " (" : "", ver,
	       ver[0] ? ")" : "");
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}
