/* image_debian.c — see image_debian.h. */
#include "oci/image_debian.h"
#include "catalog/catalog.h"
#include "deb/debian.h"
#include "err.h"
#include "exitcode.h"
#include "ext4/ext4.h"
#include "file.h"
#include "lock.h"
#include "log.h"
#include "oci/image.h"
#include "oci/layer.h"
#include "path.h"
#include "store.h"
#include "version.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int spec_from(const struct catalog_entry *ent, const struct image_debian_opts *o,
		     const char *cache, struct debian_spec *s, struct err *e)
{
	const cJSON *x;

	memset(s, 0, sizeof(*s));
	s->src[s->nsrc].mirror = o->mirror && *o->mirror ? o->mirror : ent->mirror;
	s->src[s->nsrc++].suite = ent->suite;
	cJSON_ArrayForEach(x, ent->also)
	{
		if (s->nsrc >= DEBIAN_SOURCES_MAX)
			return err_set(e, EXIT_VERIFY, "%s: too many sources", ent->name);
		s->src[s->nsrc].mirror =
			o->mirror && *o->mirror
				? o->mirror
				: cJSON_GetObjectItemCaseSensitive(x, "mirror")->valuestring;
		s->src[s->nsrc++].suite = cJSON_GetObjectItemCaseSensitive(x, "suite")->valuestring;
	}
	cJSON_ArrayForEach(x, ent->components)
	{
		if (s->ncomponents < DEBIAN_COMPONENTS_MAX)
			s->components[s->ncomponents++] = x->valuestring;
	}
	if (!s->ncomponents)
		s->components[s->ncomponents++] = "main";
	cJSON_ArrayForEach(x, ent->packages)
	{
		if (s->nextra < DEBIAN_EXTRA_MAX)
			s->extra[s->nextra++] = x->valuestring;
	}
	s->arch = ent->deb_arch;
	s->variant = ent->variant && *ent->variant ? ent->variant : "minbase";
	s->keyring = o->keyring;
	s->ca_file = o->ca_file;
	s->cache = cache;
	return 0;
}

static int deb_sink(void *ud, debian_read_fn read, void *rud, const char *what, struct err *e)
{
	return layer_apply_stream(ud, read, rud, what, e);
}

#define GUEST_DEBS "var/cache/banger-debs"

static int deb_copy(void *ud, const char *path, const char *sha256, struct err *e)
{
	char rel[128];

	snprintf(rel, sizeof(rel), GUEST_DEBS "/%s.deb", sha256);
	return layer_copy_file(ud, rel, path, 0644, e);
}

/* The first stage for a VM, straight into the writer's tree (no host tree,
 * no privilege): the Essential closure unpacked with merged /usr, dpkg's
 * empty database, policy-rc.d, the sources, and every .deb of the set
 * under GUEST_DEBS for the guest's dpkg. */
static int stage1(const struct debian_spec *sp, const struct debian_plan *plan,
		  struct layer_root *lr, struct err *e)
{
	static const char *const merged[] = { "bin", "sbin", "lib", "lib64" };
	static const char *const dirs[] = {
		"var/lib/dpkg/info", "var/lib/dpkg/updates", "proc", "dev", "sys", "run"
	};
	char sources[8192], rel[16];
	uint32_t usr, ino;

	if (debian_unpack_base(sp, plan, deb_sink, lr, e) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(merged) / sizeof(merged[0]); i++) {
		snprintf(rel, sizeof(rel), "usr/%s", merged[i]);
		/* no /lib64 unless the architecture has one */
		if (i == 3 && !(ext4_lookup(lr->fs, EXT4_ROOT_INO, "usr", 3, &usr) &&
				ext4_lookup(lr->fs, usr, "lib64", 5, &ino)))
			continue;
		if (layer_put_dir(lr, rel, 0755, e) < 0 ||
		    layer_put_symlink(lr, merged[i], rel, e) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (layer_put_dir(lr, dirs[i], 0755, e) < 0)
			return -1;
	return layer_put_dir(lr, "tmp", 01777, e) < 0 ||
			       layer_put_file(lr, "var/lib/dpkg/status", "", 0, 0644, e) < 0 ||
			       layer_put_file(lr, "var/lib/dpkg/available", "", 0, 0644, e) < 0 ||
			       /* No service starts inside the build (invoke-rc.d honours it). */
			       layer_put_file(lr, "usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n",
					      20, 0755, e) < 0 ||
			       debian_sources(sp, sources, sizeof(sources), e) < 0 ||
			       layer_put_file(lr, "etc/apt/sources.list.d/debian.sources", sources,
					      strlen(sources), 0644, e) < 0 ||
			       debian_each_deb(sp, plan, deb_copy, lr, e) < 0
		       ? -1
		       : 0;
}

/* The second stage in a VM: stage1.ext4 written here, booted by o->guest,
 * flattened into rootfs.ext4. */
static int build_guest(const struct debian_spec *sp, const struct debian_plan *plan,
		       const char *stage, const char *name, const struct image_debian_opts *o,
		       struct image_meta *m, struct err *e)
{
	char base[LIMIT_PATH], ext4[LIMIT_PATH], sde[48];
	struct ext4_opts eo = { .label = "banger-stage1",
				.seed = plan->digest,
				.time = plan->epoch };
	const char *env[] = { "DEBIAN_FRONTEND=noninteractive",
			      "DEBCONF_NONINTERACTIVE_SEEN=true",
			      "LC_ALL=C.UTF-8",
			      "HOME=/root",
			      "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
			      sde,
			      NULL };
	struct image_guest_job job = { .name = name,
				       .kernel = o->kernel,
				       .log = sp->log,
				       .label = name,
				       .seed = plan->digest,
				       .epoch = plan->epoch,
				       .size = o->size,
				       .env = env };
	struct layer_root lr;
	struct ext4_fs *fs;
	struct stat st;
	char *script = NULL;
	uint64_t bytes;
	int status = 0, rc = -1;

	if (path_join(base, sizeof(base), stage, "stage1.ext4", e) < 0 ||
	    path_join(ext4, sizeof(ext4), stage, "rootfs.ext4", e) < 0)
		return -1;
	snprintf(sde, sizeof(sde), "SOURCE_DATE_EPOCH=%lld", (long long)plan->epoch);
	if (debian_download(sp, plan, e) < 0 || !(fs = ext4_new(base, &eo, e)))
		return -1;
	layer_root_open(&lr, fs);
	lr.deb = true;
	lr.time = plan->epoch;
	script = debian_stage2_script(plan, "/" GUEST_DEBS, e);
	rc = !script || stage1(sp, plan, &lr, e) < 0 ||
			     layer_put_file(&lr, GUEST_DEBS "/stage2.sh", script, strlen(script),
					    0755, e) < 0 ||
			     ext4_finish(fs, &bytes, e) < 0
		     ? -1
		     : 0;
	ext4_free(fs);
	free(script);
	if (rc < 0)
		return -1;
	job.base = base;
	job.out = ext4;
	job.script = "/" GUEST_DEBS "/stage2.sh";
	log_info("second stage: in a VM (dpkg inside the guest; slow without KVM)");
	rc = o->guest->run(o->guest->ud, &job, &status, e);
	if (rc == 0 && status)
		rc = debian_stage2_failed(sp->log, status, "the build VM's script", e);
	unlink(base);
	if (rc == 0 && stat(ext4, &st) < 0)
		rc = err_errno(e, EXIT_SYSTEM, "%s", ext4);
	if (rc == 0) {
		m->size = (uint64_t)st.st_size;
		unlink(sp->log);
	}
	return rc;
}

/* The tree debian_build made as dir/rootfs.ext4: its UUID
 * and hash seed come from the package set's digest and its times from the
 * plan's epoch, so the same set gives the same image. */
static int build(const struct debian_spec *sp, const struct debian_plan *plan, const char *stage,
		 const char *name, const struct image_debian_opts *o, struct image_meta *m,
		 struct err *e)
{
	char tree[LIMIT_PATH], ext4[LIMIT_PATH], list[LIMIT_PATH];
	struct ext4_opts eo = {
		.size = o->size, .label = name, .seed = plan->digest, .time = plan->epoch
	};
	struct ext4_fs *fs;
	int rc;

	if (path_join(tree, sizeof(tree), stage, "rootfs", e) < 0 ||
	    path_join(ext4, sizeof(ext4), stage, "rootfs.ext4", e) < 0 ||
	    path_join(list, sizeof(list), stage, "packages.txt", e) < 0)
		return -1;
	if (geteuid() != 0 || o->in_vm) {
		if (!o->guest)
			return err_set(
				e, EXIT_USAGE,
				"%s: building a Debian image runs dpkg in a chroot (root) or "
				"in a VM, and no VM was offered here — run it as root",
				name);
		return build_guest(sp, plan, stage, name, o, m, e) < 0
			       ? -1
			       : file_write_atomic(list, plan->list, strlen(plan->list), 0644, e);
	}
	if (mkdir(tree, 0755) < 0)
		return err_errno(e, 0, "%s: cannot create", tree);
	if (debian_build(sp, plan, tree, e) < 0)
		return -1;
	if (debian_clamp_times(tree, plan->epoch, e) < 0)
		return -1;
	log_info("%s: writing the ext4 image", name);
	if (!(fs = ext4_new(ext4, &eo, e)))
		return -1;
	rc = ext4_add_tree(fs, tree, e) < 0 || ext4_finish(fs, &m->size, e) < 0 ? -1 : 0;
	ext4_free(fs);
	if (rc < 0 || path_remove_tree(tree, e) < 0)
		return -1;
	return file_write_atomic(list, plan->list, strlen(plan->list), 0644, e);
}

int image_pull_debian(const struct store *s, const struct catalog_entry *ent, const char *name,
		      const struct image_debian_opts *o, enum image_debian_outcome *out,
		      struct err *e)
{
	char dir[LIMIT_PATH], cache[LIMIT_PATH], stage[LIMIT_PATH] = "", source[LIMIT_PATH];
	char log[LIMIT_PATH + 80];
	struct debian_spec sp;
	struct debian_plan plan = { 0 };
	struct image_meta m, old;
	bool waited = false, have_old;
	int lock, rc = -1;

	if (store_object_dir(s, "images", name, dir, sizeof(dir), e) < 0 ||
	    store_kind_dir(s, "deb", cache, sizeof(cache), e) < 0 ||
	    store_kind_dir(s, "images", stage, sizeof(stage), e) < 0)
		return -1;
	snprintf(log, sizeof(log), "%s/.%s.build.log", stage, name);
	stage[0] = '\0';
	if (strlen(cache) + 8 >= sizeof(cache))
		return err_set(e, EXIT_USAGE, "%s: path too long", cache);
	memcpy(cache + strlen(cache), "/debs", 6);
	snprintf(source, sizeof(source), "debian:%s", ent->name);
	if (spec_from(ent, o, cache, &sp, e) < 0)
		return -1;
	sp.log = log;
	lock = store_lock(s, "images", name, &waited, e);
	if (lock < 0)
		return -1;
	if (waited)
		log_info("%s: waited for another banger working on this image", name);
	store_sweep_staging(s, "images", name);
	have_old = image_meta_read(dir, &old, e) == 0;
	err_init(e);
	if (have_old && strcmp(old.source, source) && !o->force) {
		err_set(e, EXIT_BUSY,
			"%s: already holds %s — use --name for another name, or --force", name,
			old.source);
		goto out;
	}
	*out = IMAGE_DEBIAN_UP_TO_DATE;
	if (have_old && !o->force && !o->refresh) {
		rc = 0;
		goto out;
	}
	if (debian_resolve(&sp, &plan, e) < 0)
		goto out;
	if (have_old && !o->force && !strncmp(old.digest, "sha256:", 7) &&
	    !strcmp(old.digest + 7, plan.digest)) {
		rc = 0;
		goto out;
	}
	if (store_staging(s, "images", name, stage, sizeof(stage), e) < 0)
		goto out;
	/* The tree holds setuid files and devices as root: nobody else may
	 * reach it while it exists. */
	if (chmod(stage, 0700) < 0) {
		err_errno(e, 0, "%s: chmod", stage);
		goto out;
	}
	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.source, sizeof(m.source), "%s", source);
	snprintf(m.digest, sizeof(m.digest), "sha256:%s", plan.digest);
	snprintf(m.platform, sizeof(m.platform), "linux/%s", sp.arch);
	image_now(m.created);
	if (build(&sp, &plan, stage, name, o, &m, e) < 0)
		goto out;
	if (chmod(stage, 0755) < 0) {
		err_errno(e, 0, "%s: chmod", stage);
		goto out;
	}
	if (image_meta_write(stage, &m, e) < 0 || file_commit_dir(stage, dir, e) < 0)
		goto out;
	stage[0] = '\0';
	*out = IMAGE_DEBIAN_BUILT;
	rc = 0;
out:
	if (stage[0]) {
		struct err e2;

		err_init(&e2);
		path_remove_tree(stage, &e2);
	}
	debian_plan_fini(&plan);
	lock_release(lock);
	return rc;
}
