/* image-pull — an OCI registry image or catalog entry, as a bootable ext4 root.
 *
 * Its usage, the text --help prints, is image_pull_usage[] below; the formats
 * and protocols are in docs/image-catalog.md, docs/oci-import.md.
 */
#include "units.h"
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "log.h"
#include "oci/image_debian.h"
#include "oci/pull.h"
#include "progress.h"
#include "store.h"
#include "vm/build.h"
#include "xfuncs.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

const char image_pull_usage[] =
	"usage: image-pull [-fqv] [--name NAME] [--platform OS/ARCH] [--creds USER:PASS]\n"
	"                  [--insecure] [--size SIZE] [--catalog URL|PATH]\n"
	"                  [--mirror URL] [--keyring FILE] [--refresh] [--in-vm] [--kernel K] REF\n"
	"\n"
	"REF is first looked up in the image catalog (built in, $BANGER_IMAGE_CATALOG\n"
	"or --catalog; see docs/image-catalog.md): a bundle entry is downloaded and\n"
	"verified as it is, a debian entry is built from the Debian archive\n"
	"(docs/debian-images.md: dpkg runs in a chroot as root, else in a VM), an OCI\n"
	"entry names the reference to pull. Otherwise REF\n"
	"is an OCI reference, normalised as Docker does (debian:bookworm is\n"
	"docker.io/library/debian:bookworm; host:port/repo@sha256:... pins a digest)\n"
	"and that normalised text is the image's identity: it is pulled into the\n"
	"entry that holds exactly it (another registry, repository, tag or digest\n"
	"is another entry), as 'vm run --image REF' finds it. A NAME already in\n"
	"BANGER_HOME/images is pulled again from where it came from.\n"
	"Layers are verified against their digests, cached in BANGER_HOME/oci/blobs\n"
	"and replayed (refusing unsafe entries) into BANGER_HOME/images/NAME/rootfs.ext4,\n"
	"with the banger agent and its systemd units added.\n"
	"\n"
	"  --name NAME         store it as NAME (default: from REF, e.g. debian-bookworm,\n"
	"                      with -HASH8 added when that name holds another REF)\n"
	"  --platform OS/ARCH  pick this platform from a multi-platform image (linux/amd64)\n"
	"  --creds USER:PASS   registry credentials (else $REGISTRY_AUTH_FILE, then\n"
	"                      ~/.docker/config.json)\n"
	"  --insecure          allow plain HTTP to a registry that is not on loopback\n"
	"  --size SIZE         ext4 size (512M, 4G; default: the content plus headroom)\n"
	"  -f, --force         rebuild even when NAME is up to date, or holds another REF\n"
	"  --mirror URL        debian entries: take every suite from this mirror\n"
	"  --keyring FILE      debian entries: trust this archive keyring (else\n"
	"                      $BANGER_DEB_KEYRING, else Debian's, built in)\n"
	"  --refresh           debian entries: re-read the archive, rebuild if it moved\n"
	"  --in-vm             debian entries: run dpkg in a VM even as root (as a user\n"
	"                      it always does: QEMU or Firecracker)\n"
	"  --kernel NAME       the kernel that VM boots (default debian-cloud, pulled\n"
	"                      when missing)\n"
	"\n"
	"Registry CAs: /etc/docker/certs.d/HOST:PORT/ca.crt, else $SSL_CERT_FILE.\n"
	"See docs/oci-import.md.\n"
	"\n"
	"examples:\n"
	"  banger image pull debian:bookworm\n"
	"  banger image pull --name web localhost:5000/library/nginx:1\n"
	"  banger image pull --platform linux/arm64 alpine:3\n";

static struct image_pull_opts opt;

int image_pull_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "platform", required_argument, NULL, 'p' },
		{ "creds", required_argument, NULL, 'c' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "size", required_argument, NULL, 's' },
		{ "force", no_argument, NULL, 'f' },
		{ "catalog", required_argument, NULL, 'C' },
		{ "mirror", required_argument, NULL, 'M' },
		{ "keyring", required_argument, NULL, 'K' },
		{ "refresh", no_argument, NULL, 'R' },
		{ "in-vm", no_argument, NULL, 'V' },
		{ "kernel", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const said[] = {
		[IMAGE_PULLED] = "installed",
		[IMAGE_UP_TO_DATE] = "up to date",
		[IMAGE_PRESENT] = "already installed",
		[IMAGE_BUNDLE_OTHER] = "installed by another banger",
	};
	struct image_guest guest = { .run = vm_build_in_guest };
	struct image_pulled out;
	struct store st;
	struct err e;
	char sz[32];
	int c;

	err_init(&e);
	while ((c = xgetopt_long(argc, argv, "fqv", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			opt.name = optarg;
			break;
		case 'p':
			opt.platform = optarg;
			break;
		case 'c':
			opt.creds = optarg;
			break;
		case 'k':
			opt.insecure = true;
			break;
		case 's':
			if (parse_size(optarg, &opt.size, &e) < 0)
				die_usage("--size: %s", e.msg);
			break;
		case 'f':
			opt.force = true;
			break;
		case 'C':
			opt.catalog = optarg;
			break;
		case 'M':
			opt.mirror = optarg;
			break;
		case 'K':
			opt.keyring = optarg;
			break;
		case 'R':
			opt.refresh = true;
			break;
		case 'V':
			opt.in_vm = true;
			break;
		case 'L':
			opt.kernel = optarg;
			break;
		case 'q':
			log_less();
			break;
		case 'v':
			log_more();
			break;
		default:
			die_usage("unknown option");
		}
	}
	if (argc - optind != 1)
		die_usage("want one image reference");
	if (opt.platform && strchr(opt.platform, '/') == NULL)
		die_usage("--platform: want OS/ARCH[/VARIANT], e.g. linux/amd64");
	opt.progress = log_level() >= LOG_INFO;
	guest.ud = &st;
	opt.guest = &guest;
	if (store_init(&st, &e) < 0 || image_pull(&st, argv[optind], &opt, &out, &e) < 0)
		die_err(&e);
	if (out.waited)
		log_info("%s: waited for another banger working on this image", out.name);
	if (out.nevicted)
		log_info("%s", out.evicted);
	if (out.how == IMAGE_BY_BUNDLE) {
		log_info("%s: %s from the catalog (%.19s…)", out.name, said[out.outcome],
			 out.digest);
	} else if (out.how == IMAGE_BY_NAME) {
		log_info("%s: installed from %s, not a registry or the catalog: nothing to pull",
			 out.name, out.source[0] ? out.source : "a file put there by hand");
	} else if (out.how == IMAGE_BY_DEBIAN) {
		log_info("%s: %s", out.name,
			 out.outcome == IMAGE_PULLED ? "built from the Debian archive"
						     : "up to date");
	} else if (out.outcome == IMAGE_PULLED) {
		format_size(out.size, sz, sizeof(sz));
		log_debug("downloaded %llu bytes", (unsigned long long)out.fetched);
		log_info("%s: %s (%s) → %s/rootfs.ext4, %s", out.name, out.source, out.digest,
			 out.dir, sz);
	} else {
		log_info("%s: %s (%s)", out.name, said[out.outcome], out.digest);
	}
	puts(out.name);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}
