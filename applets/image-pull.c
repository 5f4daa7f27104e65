/* image-pull — an OCI registry image or catalog entry, as a bootable ext4 root.
 *
 * Its usage, the text --help prints, is image_pull_usage[] below; the formats
 * and protocols are in docs/image-catalog.md, docs/oci-import.md.
 */
#include "units.h"
#include "version.h"
#include "applet.h"
#include "catalog/bundle.h"
#include "catalog/catalog.h"
#include "err.h"
#include "exitcode.h"
#include "ext4/ext4.h"
#include "file.h"
#include "oci/image.h"
#include "oci/image_debian.h"
#include "oci/layer.h"
#include "lock.h"
#include "log.h"
#include "path.h"
#include "progress.h"
#include "oci/ref.h"
#include "oci/registry.h"
#include "store.h"
#include "xfuncs.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char image_pull_usage[] =
	"usage: image-pull [-fqv] [--name NAME] [--platform OS/ARCH] [--creds USER:PASS]\n"
	"                  [--insecure] [--size SIZE] [--catalog URL|PATH]\n"
	"                  [--mirror URL] [--keyring FILE] [--refresh] REF\n"
	"\n"
	"REF is first looked up in the image catalog (built in, $BANGER_IMAGE_CATALOG\n"
	"or --catalog; see docs/image-catalog.md): a bundle entry is downloaded and\n"
	"verified as it is, a debian entry is built from the Debian archive (as root;\n"
	"docs/debian-images.md), an OCI entry names the reference to pull. Otherwise REF\n"
	"is an OCI reference, normalised as Docker does (debian:bookworm is\n"
	"docker.io/library/debian:bookworm; host:port/repo@sha256:... pins a digest).\n"
	"Layers are verified against their digests, cached in BANGER_HOME/oci/blobs\n"
	"and replayed (refusing unsafe entries) into BANGER_HOME/images/NAME/rootfs.ext4,\n"
	"with the banger agent and its systemd units added.\n"
	"\n"
	"  --name NAME         store it as NAME (default: from REF, e.g. debian-bookworm)\n"
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
	"\n"
	"Registry CAs: /etc/docker/certs.d/HOST:PORT/ca.crt, else $SSL_CERT_FILE.\n"
	"See docs/oci-import.md.\n"
	"\n"
	"examples:\n"
	"  banger image pull debian:bookworm\n"
	"  banger image pull --name web localhost:5000/library/nginx:1\n"
	"  banger image pull --platform linux/arm64 alpine:3\n";

static struct {
	const char *name;
	const char *platform;
	const char *creds;
	const char *catalog;
	const char *mirror;
	const char *keyring;
	bool refresh;
	bool insecure;
	bool force;
	uint64_t size;
	struct store store;
	char staging[LIMIT_PATH];
} opt;

static void fail(struct err *e)
{
	if (strstr(e->msg, "No space left") && !strstr(e->msg, "free some space")) {
		char msg[ERR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", e->msg);
		err_set(e, EXIT_SYSTEM, "%s — disk full: free some space in %s", msg,
			opt.store.home);
	}
	if (opt.staging[0]) {
		struct err e2;

		err_init(&e2);
		path_remove_tree(opt.staging, &e2);
	}
	die_err(e);
}

/* Reads layer i from the background download as it arrives. */
struct layer_reader {
	struct blob_fetch *fetch;
	size_t i;
	int fd;
	uint64_t off;
	char buf[256 * 1024];
	bool failed;
	struct err err;
};

static ssize_t read_layer(void *ud, const void **out)
{
	struct layer_reader *rd = ud;
	ssize_t n = registry_layer_read(rd->fetch, rd->i, rd->fd, rd->off, rd->buf, sizeof(rd->buf),
					&rd->err);

	if (n < 0) {
		rd->failed = true;
		return -1;
	}
	rd->off += (uint64_t)n;
	*out = rd->buf;
	return n;
}

/* Downloads the layers and replays them as they arrive into tree, adds the
 * agent, builds dir/rootfs.ext4 — committed by the caller only if every
 * layer then proved to match its digest. Returns 1 when a cached layer had
 * rotted (it is evicted and the tree removed): build again, to fetch it. */
static int build(struct registry *r, const struct oci_image *img, const char *blobs,
		 const char *tmp, const char *dir, struct image_meta *m)
{
	char tree[LIMIT_PATH], ext4[LIMIT_PATH], what[700];
	static struct layer_reader rd;
	struct blob_fetch *fetch;
	struct layer_root lr;
	struct layer_usage u;
	struct ext4_usage eu;
	struct ext4_plan plan;
	uint64_t fetched = 0;
	struct err e;

	err_init(&e);
	if (path_join(tree, sizeof(tree), dir, "rootfs", &e) < 0 ||
	    path_join(ext4, sizeof(ext4), dir, "rootfs.ext4", &e) < 0)
		fail(&e);
	if (mkdir(tree, 0755) < 0) {
		err_errno(&e, 0, "%s: cannot create", tree);
		fail(&e);
	}
	if (layer_root_open(&lr, tree, &e) < 0)
		fail(&e);
	fetch = registry_fetch_start(r, img, blobs, tmp, &e);
	if (!fetch)
		fail(&e);
	for (size_t i = 0; i < img->nlayers; i++) {
		snprintf(what, sizeof(what), "%s: layer %zu/%zu (%.19s…)", r->name, i + 1,
			 img->nlayers, img->layers[i].digest);
		log_debug("applying %s", what);
		memset(&rd, 0, sizeof(rd));
		rd.fetch = fetch;
		rd.i = i;
		err_init(&rd.err);
		rd.fd = registry_layer_open(fetch, i, &e);
		if (rd.fd < 0 || layer_apply_stream(&lr, read_layer, &rd, what, &e) < 0 ||
		    registry_layer_check(fetch, i, rd.fd, &e) < 0) {
			struct err ignore;
			bool evicted;

			if (rd.failed)
				e = rd.err; /* the download's own error says more */
			else if (rd.fd >= 0 && registry_layer_check(fetch, i, rd.fd, &e) == 0)
				registry_layer_wait(fetch, i, &e); /* corrupt, not malformed? */
			evicted = registry_layer_evicted(fetch, i);
			if (rd.fd >= 0)
				close(rd.fd);
			err_init(&ignore);
			registry_fetch_finish(fetch, true, NULL, &ignore);
			if (!evicted)
				fail(&e);
			/* The rotted bytes went into the tree: none of it stays. */
			log_info("%s", e.msg);
			layer_root_close(&lr);
			if (path_remove_tree(tree, &e) < 0)
				fail(&e);
			return 1;
		}
		close(rd.fd);
	}
	/* Only now is everything that was replayed known to be verified. */
	if (registry_fetch_finish(fetch, false, &fetched, &e) < 0)
		fail(&e);
	log_debug("downloaded %llu bytes", (unsigned long long)fetched);
	if (image_inject_agent(&lr, "/proc/self/exe", m->agent_sha256, &e) < 0 ||
	    layer_usage(&lr, &u, &e) < 0)
		fail(&e);
	eu.blocks = u.blocks;
	eu.inodes = u.inodes;
	if (ext4_plan(&eu, opt.size, &plan, &e) < 0)
		fail(&e);
	layer_root_close(&lr);
	log_debug("ext4: %llu MiB, %llu inodes for %llu in use",
		  (unsigned long long)(plan.bytes >> 20), (unsigned long long)plan.inodes,
		  (unsigned long long)u.inodes);
	if (ext4_build_mke2fs(tree, ext4, &plan, m->name, &e) < 0 || path_remove_tree(tree, &e) < 0)
		fail(&e);
	m->size = plan.bytes;
	return 0;
}

/* A catalog bundle: downloaded, verified and installed as it is. */
static int pull_bundle(const struct catalog_entry *ent, const char *name)
{
	static const char *const said[] = { "installed", "already installed",
					    "installed by another banger" };
	enum bundle_outcome out;
	struct err e;

	err_init(&e);
	if (!path_is_simple_name(name))
		die_usage("--name '%s': use letters, digits, '.', '_' and '-'", name);
	if (store_init(&opt.store, &e) < 0 ||
	    image_pull_bundle(&opt.store, ent, name, NULL, opt.force, &out, &e) < 0)
		die_err(&e);
	log_info("%s: %s from the catalog (sha256:%.12s…)", name, said[out], ent->sha256);
	puts(name);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}

/* A catalog debian entry: built from the archive (lib/oci/image_debian.h). */
static int pull_debian(const struct catalog_entry *ent, const char *name)
{
	struct image_debian_opts o = { .mirror = opt.mirror,
				       .keyring = opt.keyring,
				       .size = opt.size,
				       .refresh = opt.refresh,
				       .force = opt.force };
	enum image_debian_outcome out;
	struct err e;

	err_init(&e);
	if (!path_is_simple_name(name))
		die_usage("--name '%s': use letters, digits, '.', '_' and '-'", name);
	if (store_init(&opt.store, &e) < 0 ||
	    image_pull_debian(&opt.store, ent, name, &o, &out, &e) < 0)
		fail(&e);
	log_info("%s: %s", name,
		 out == IMAGE_DEBIAN_BUILT ? "built from the Debian archive" : "up to date");
	puts(name);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}

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
		{ NULL, 0, NULL, 0 },
	};
	char refstr[600], dir[LIMIT_PATH], kind[LIMIT_PATH], blobs[LIMIT_PATH], tmp[LIMIT_PATH];
	char name[65], sz[32];
	const char *arg;
	const struct catalog_entry *ent = NULL;
	struct catalog cat;
	struct registry_opts ro = { 0 };
	struct registry r;
	struct oci_image img;
	struct image_meta m, old;
	struct ref ref;
	struct err e;
	bool waited = false, have_old;
	int c, lock;

	err_init(&e);
	catalog_init(&cat);
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
	arg = argv[optind];
	if (catalog_load(&cat, CATALOG_IMAGES, opt.catalog, &e) < 0)
		die_err(&e);
	if (path_is_simple_name(arg) && (ent = catalog_find(&cat, arg, &e))) {
		snprintf(name, sizeof(name), "%s", opt.name ? opt.name : ent->name);
		if (ent->kind == CATALOG_BUNDLE)
			return pull_bundle(ent, name);
		if (ent->kind == CATALOG_DEBIAN)
			return pull_debian(ent, name);
		arg = ent->ref; /* an OCI entry: pull what it names */
	}
	err_init(&e);
	if (ref_parse(arg, &ref, &e) < 0 || ref_format(&ref, refstr, sizeof(refstr), &e) < 0)
		die_err(&e);
	if (opt.name)
		snprintf(name, sizeof(name), "%s", opt.name);
	else if (!ent)
		ref_default_name(&ref, name);
	if (!path_is_simple_name(opt.name ? opt.name : name))
		die_usage("--name '%s': use letters, digits, '.', '_' and '-' (at most 64)",
			  opt.name ? opt.name : name);

	if (store_init(&opt.store, &e) < 0 ||
	    store_object_dir(&opt.store, "images", name, dir, sizeof(dir), &e) < 0 ||
	    store_kind_dir(&opt.store, "oci/blobs/sha256", blobs, sizeof(blobs), &e) < 0 ||
	    store_kind_dir(&opt.store, "tmp", tmp, sizeof(tmp), &e) < 0 ||
	    store_kind_dir(&opt.store, "images", kind, sizeof(kind), &e) < 0)
		die_err(&e);
	lock = store_lock(&opt.store, "images", name, &waited, &e);
	if (lock < 0)
		die_err(&e);
	if (waited)
		log_info("%s: waited for another banger working on this image", name);
	store_sweep_staging(&opt.store, "images", name);
	registry_sweep_tmp(tmp);

	have_old = image_meta_read(dir, &old, &e) == 0;
	if (have_old && strcmp(old.source, refstr) && !opt.force)
		die(EXIT_BUSY, "%s: already holds %s — use --name for another name, or --force",
		    name, old.source);
	err_init(&e);
	ro.creds = opt.creds;
	ro.insecure = opt.insecure;
	ro.platform = opt.platform;
	ro.progress = log_level() >= LOG_INFO;
	if (registry_open(&r, &ref, &ro, &e) < 0 || registry_resolve(&r, &img, &e) < 0)
		die_err(&e);
	log_debug("%s: %s, %zu layers, %s", refstr, img.manifest_digest, img.nlayers, img.platform);

	memset(&m, 0, sizeof(m));
	/* How the image wants to run (Env, Cmd…), for vm run. */
	if (image_config_from_oci(img.config_json, &m.config, &e) < 0) {
		err_prefix(&e, "%s", refstr);
		die_err(&e);
	}
	if (have_old) {
		if (!strcmp(old.digest, img.manifest_digest) && !opt.force) {
			log_info("%s: up to date (%s)", name, img.manifest_digest);
			puts(name);
			return EXIT_OK;
		}
	}
	err_init(&e);

	if (store_staging(&opt.store, "images", name, opt.staging, sizeof(opt.staging), &e) < 0)
		die_err(&e);
	/* The tree holds the image's setuid files and device nodes, as root: no
	 * other user may reach it while it exists. */
	if (chmod(opt.staging, 0700) < 0) {
		err_errno(&e, 0, "%s: chmod", opt.staging);
		fail(&e);
	}
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.source, sizeof(m.source), "%s", refstr);
	snprintf(m.digest, sizeof(m.digest), "%s", img.manifest_digest);
	snprintf(m.index_digest, sizeof(m.index_digest), "%s", img.index_digest);
	snprintf(m.platform, sizeof(m.platform), "%s", img.platform);
	snprintf(m.agent_version, sizeof(m.agent_version), "%s", banger_version());
	image_now(m.created);
	/* Each round evicts a rotted cached layer, which the next downloads. */
	for (size_t round = 0; build(&r, &img, blobs, tmp, opt.staging, &m); round++)
		if (round == img.nlayers) {
			err_set(&e, EXIT_VERIFY, "%s: cached layers keep failing their digests",
				name);
			fail(&e);
		}
	if (chmod(opt.staging, 0755) < 0)
		err_errno(&e, 0, "%s: chmod", opt.staging);
	if (e.code || image_meta_write(opt.staging, &m, &e) < 0 ||
	    file_commit_dir(opt.staging, dir, &e) < 0)
		fail(&e);
	opt.staging[0] = '\0';
	format_size(m.size, sz, sizeof(sz));
	log_info("%s: %s (%s) → %s/rootfs.ext4, %s", name, refstr, img.manifest_digest, dir, sz);
	puts(name);
	oci_image_fini(&img);
	registry_fini(&r);
	catalog_fini(&cat);
	lock_release(lock);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}
