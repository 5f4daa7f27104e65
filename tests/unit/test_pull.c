/* Unit tests: lib/oci/pull.c — image_resolve, the one function `image pull`
 * and `vm run --image` reach an entry through: exact identity by normalised
 * reference, aliases, catalog names, default names that never collide. */
#include "harness.h"

#include "catalog/catalog.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "oci/image.h"
#include "oci/pull.h"
#include "path.h"
#include "store.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static struct store st;
static struct catalog cat;
static char home[64];

/* images/NAME holding source, as a finished pull leaves it. */
static void entry(const char *name, const char *source)
{
	char dir[LIMIT_PATH], file[LIMIT_PATH];
	struct image_meta m = { 0 };
	struct err e;

	err_init(&e);
	store_object_dir(&st, "images", name, dir, sizeof(dir), &e);
	path_mkdirs(dir, 0755, &e);
	path_join(file, sizeof(file), dir, "rootfs.ext4", &e);
	file_write_atomic(file, "", 0, 0644, &e);
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.source, sizeof(m.source), "%s", source);
	snprintf(m.digest, sizeof(m.digest), "sha256:%064d", 1);
	if (source[0])
		image_meta_write(dir, &m, &e);
	CHECK(e.code == 0);
}

/* Resolves arg as vm run does (if_missing) and as image pull does; both
 * must land on the same entry. */
static struct image_target resolve(const char *arg, const char *name)
{
	struct image_pull_opts run = { .if_missing = true, .name = name };
	struct image_pull_opts pull = { .name = name };
	struct image_target a, b;
	struct err e;

	err_init(&e);
	CHECK(image_resolve(&st, &cat, arg, &run, &a, &e) == 0);
	CHECK(image_resolve(&st, &cat, arg, &pull, &b, &e) == 0);
	CHECK_STR(a.name, b.name);
	CHECK_STR(a.source, b.source);
	CHECK(a.installed == b.installed);
	return a;
}

static void same_text_same_entry(void)
{
	struct image_target t = resolve("library/debian", NULL);

	CHECK_STR(t.name, "debian-latest");
	CHECK_STR(t.source, "docker.io/library/debian:latest");
	CHECK(!t.installed && t.how == IMAGE_BY_REF);
	t = resolve("docker.io/library/debian:latest", NULL);
	CHECK_STR(t.name, "debian-latest");
	t = resolve("debian:latest", NULL);
	CHECK_STR(t.source, "docker.io/library/debian:latest");
	{
		/* A bare name no store or catalog knows is refused at once, with
		 * how to write the Docker Hub name (issue 12). */
		struct image_pull_opts run = { .if_missing = true };
		struct image_target x;
		struct err e;

		err_init(&e);
		CHECK(image_resolve(&st, &cat, "debian", &run, &x, &e) < 0);
		CHECK(e.code == EXIT_NOTFOUND && strstr(e.msg, "library/debian"));
	}
	entry("debian-latest", "docker.io/library/debian:latest");
	t = resolve("library/debian", NULL);
	CHECK_STR(t.name, "debian-latest");
	CHECK(t.installed);
	t = resolve("index.docker.io/library/debian", NULL);
	CHECK(t.installed && !strcmp(t.name, "debian-latest"));
}

static void another_ref_never_matches(void)
{
	struct image_target t;

	entry("debian-bookworm", "localhost:5055/library/debian:bookworm");
	t = resolve("localhost:5055/library/debian:bookworm", NULL);
	CHECK(t.installed && !strcmp(t.name, "debian-bookworm"));
	/* another registry (port), repository, tag, digest: another entry */
	t = resolve("localhost:5056/library/debian:bookworm", NULL);
	CHECK(!t.installed);
	CHECK(strncmp(t.name, "debian-bookworm-", 16) == 0 && strlen(t.name) == 24);
	CHECK_STR(t.source, "localhost:5056/library/debian:bookworm");
	t = resolve("localhost:5055/debian:bookworm", NULL);
	CHECK(!t.installed && strcmp(t.name, "debian-bookworm"));
	CHECK_STR(t.source, "localhost:5055/debian:bookworm");
	t = resolve("localhost:5055/library/debian:trixie", NULL);
	CHECK(!t.installed && !strcmp(t.name, "debian-trixie"));
	t = resolve("localhost:5055/library/debian:bookworm@sha256:"
		    "0000000000000000000000000000000000000000000000000000000000000001",
		    NULL);
	CHECK(!t.installed && strcmp(t.name, "debian-bookworm"));
	/* the two derived names differ by the reference */
	struct image_target u = resolve("localhost:5057/library/debian:bookworm", NULL);
	CHECK(strcmp(u.name, resolve("localhost:5056/library/debian:bookworm", NULL).name));
}

static void names_are_aliases(void)
{
	struct image_target t;
	struct image_pull_opts run = { .if_missing = true };
	struct image_pull_opts pull = { 0 };
	struct err e;

	err_init(&e);
	entry("mine", "localhost:5055/library/debian:bookworm");
	entry("handmade", ""); /* no manifest: known by name only */
	/* found by what it holds: the default name is preferred */
	t = resolve("localhost:5055/library/debian:bookworm", NULL);
	CHECK_STR(t.name, "debian-bookworm");
	/* an installed name, as vm run takes it, or to refresh it (pull) */
	CHECK(image_resolve(&st, &cat, "mine", &run, &t, &e) == 0);
	CHECK(t.how == IMAGE_BY_NAME && t.installed && !strcmp(t.name, "mine"));
	CHECK(image_resolve(&st, &cat, "mine", &pull, &t, &e) == 0);
	CHECK(t.how == IMAGE_BY_REF && t.installed && !strcmp(t.name, "mine"));
	CHECK_STR(t.source, "localhost:5055/library/debian:bookworm");
	CHECK(image_resolve(&st, &cat, "handmade", &run, &t, &e) == 0);
	CHECK(t.how == IMAGE_BY_NAME && t.installed);
	/* --name: that entry, installed only if it holds this reference */
	t = resolve("localhost:5056/library/debian:bookworm", "mine");
	CHECK(!t.installed && t.named && !strcmp(t.name, "mine"));
	t = resolve("localhost:5055/library/debian:bookworm", "mine");
	CHECK(t.installed && !strcmp(t.name, "mine"));
	CHECK(image_resolve(&st, &cat, "x", &(struct image_pull_opts){ .name = "../x" }, &t, &e) ==
	      -1);
	CHECK(e.code == EXIT_USAGE && strstr(e.msg, "--name '../x'"));
}

static void catalog_names(void)
{
	struct image_pull_opts run = { .if_missing = true, .fallback_ref = "debian:bookworm" };
	struct image_target t = resolve("tiny", NULL);
	struct err e;

	CHECK(t.how == IMAGE_BY_REF && t.named && !strcmp(t.name, "tiny"));
	CHECK_STR(t.source, "localhost:5055/test/img:1");
	t = resolve("bun", NULL);
	CHECK(t.how == IMAGE_BY_BUNDLE && !strcmp(t.name, "bun") && !t.installed);
	/* vm run's default: an installed or catalog name, else the reference */
	err_init(&e);
	CHECK(image_resolve(&st, &cat, "deb-default", &run, &t, &e) == 0);
	CHECK(t.how == IMAGE_BY_REF && !strcmp(t.name, "deb-default"));
	CHECK_STR(t.source, "docker.io/library/debian:bookworm");
	CHECK(image_resolve(&st, &cat, "Bad/Name", &run, &t, &e) == -1 && e.code == EXIT_USAGE);
}

int main(void)
{
	static const char doc[] =
		"{\"version\":1,\"entries\":["
		"{\"name\":\"tiny\",\"kind\":\"oci\",\"ref\":\"localhost:5055/test/img:1\"},"
		"{\"name\":\"bun\",\"kind\":\"bundle\",\"url\":\"https://example.invalid/"
		"b.tar.zst\","
		"\"sha256\":\"1111111111111111111111111111111111111111111111111111111111111111\","
		"\"size\":1}]}";
	struct err e;

	HARNESS_BEGIN("pull");
	err_init(&e);
	snprintf(home, sizeof(home), "/tmp/banger-unit-pull.XXXXXX");
	if (!mkdtemp(home))
		return 1;
	setenv("BANGER_HOME", home, 1);
	store_init(&st, &e);
	catalog_init(&cat);
	if (catalog_parse(&cat, doc, sizeof(doc) - 1, "test catalog", NULL, &e) < 0) {
		printf("FAIL: unit/pull: catalog: %s\n", e.msg);
		return 1;
	}
	RUN(same_text_same_entry);
	RUN(another_ref_never_matches);
	RUN(names_are_aliases);
	RUN(catalog_names);
	catalog_fini(&cat);
	path_remove_tree(home, &e);
	HARNESS_END();
}
