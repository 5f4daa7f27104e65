/* Unit tests: lib/oci/image.c's run settings — the OCI config's Env,
 * Entrypoint, Cmd, WorkingDir and User read from a config blob, kept in
 * manifest.json and read back; wrong types and oversized values refused. */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "oci/image.h"
#include "path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void from_oci(void)
{
	static struct image_config c;
	const char *p[8];
	struct err e;

	err_init(&e);
	CHECK(image_config_from_oci("{\"architecture\":\"amd64\",\"config\":{"
				    "\"Env\":[\"PATH=/usr/bin\",\"G=a b\"],"
				    "\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[\"echo hi\"],"
				    "\"WorkingDir\":\"/srv\",\"User\":\"1000:1000\","
				    "\"Labels\":{\"x\":\"y\"}}}",
				    &c, &e) == 0);
	CHECK(strlist_ptrs(&c.env, p) == 2);
	CHECK_STR(p[1], "G=a b");
	CHECK(strlist_ptrs(&c.entrypoint, p) == 2);
	CHECK_STR(p[0], "/bin/sh");
	CHECK(c.cmd.n == 1);
	CHECK_STR(c.workdir, "/srv");
	CHECK_STR(c.user, "1000:1000");
	/* No config, or nulls (Docker writes "Entrypoint": null): all empty. */
	CHECK(image_config_from_oci("{\"rootfs\":{}}", &c, &e) == 0 && !c.env.n && !c.user[0]);
	CHECK(image_config_from_oci("{\"config\":{\"Entrypoint\":null,\"Cmd\":null}}", &c, &e) ==
	      0);
	CHECK(!c.entrypoint.n && !c.cmd.n);
}

static void refusals(void)
{
	static struct image_config c;
	static char big[LIMIT_STRLIST + 64];
	struct err e;
	const char *bad[] = {
		"[]",
		"{\"config\":[]}",
		"{\"config\":{\"Env\":\"A=1\"}}",
		"{\"config\":{\"Cmd\":[1]}}",
		"{\"config\":{\"User\":0}}",
		"{\"config\":{\"WorkingDir\":[\"/\"]}}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_init(&e);
		CHECK(image_config_from_oci(bad[i], &c, &e) == -1 && e.code == EXIT_VERIFY);
	}
	/* Over the ceiling: an error, never a truncated Cmd. */
	snprintf(big, sizeof(big), "{\"config\":{\"Cmd\":[\"%0*d\"]}}", LIMIT_STRLIST, 0);
	err_init(&e);
	CHECK(image_config_from_oci(big, &c, &e) == -1 && e.code == EXIT_VERIFY);
	CHECK(strstr(e.msg, "Cmd") != NULL);
}

static void manifest_round_trip(void)
{
	static struct image_meta m, back;
	char dir[] = "/tmp/banger-test-image-XXXXXX";
	struct err e;
	const char *p[4];

	err_init(&e);
	CHECK(mkdtemp(dir) != NULL);
	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "show");
	CHECK(image_config_from_oci("{\"config\":{\"Env\":[\"G=hello\"],\"Cmd\":[\"c0\",\"c1\"],"
				    "\"User\":\"nobody\"}}",
				    &m.config, &e) == 0);
	CHECK(image_meta_write(dir, &m, &e) == 0);
	CHECK(image_meta_read(dir, &back, &e) == 0);
	CHECK(strlist_ptrs(&back.config.cmd, p) == 2);
	CHECK_STR(p[1], "c1");
	CHECK_STR(back.config.user, "nobody");
	CHECK(!back.config.workdir[0] && !back.config.entrypoint.n);
	/* An image without a config writes none and reads back empty. */
	memset(&m.config, 0, sizeof(m.config));
	CHECK(image_meta_write(dir, &m, &e) == 0 && image_meta_read(dir, &back, &e) == 0);
	CHECK(!back.config.cmd.n && !back.config.env.n);
	path_remove_tree(dir, &e);
}

int main(void)
{
	HARNESS_BEGIN("image");
	RUN(from_oci);
	RUN(refusals);
	RUN(manifest_round_trip);
	HARNESS_END();
}
