/* Unit tests: lib/store.c — home resolution, names, staging and sweeping. */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "path.h"
#include "store.h"

#include <sys/stat.h>
#include <unistd.h>

static void home_from_env(void)
{
	struct store s;
	struct err e;

	setenv("BANGER_HOME", "/srv/banger/", 1);
	CHECK(store_init(&s, &e) == 0);
	CHECK_STR(s.home, "/srv/banger");
	unsetenv("BANGER_HOME");
	setenv("XDG_DATA_HOME", "/x/data", 1);
	CHECK(store_init(&s, &e) == 0);
	CHECK_STR(s.home, geteuid() == 0 ? "/var/lib/banger" : "/x/data/banger");
}

static void names_are_checked(void)
{
	struct store s;
	struct err e;
	char out[512];

	setenv("BANGER_HOME", "/h", 1);
	store_init(&s, &e);
	CHECK(store_object_dir(&s, "kernels", "debian-cloud", out, sizeof(out), &e) == 0);
	CHECK_STR(out, "/h/kernels/debian-cloud");
	err_init(&e);
	CHECK(store_object_dir(&s, "kernels", "../etc", out, sizeof(out), &e) == -1);
	CHECK(e.code == EXIT_USAGE && strstr(e.msg, "'../etc'"));
}

static void staging_lock_and_sweep(void)
{
	const char *t = harness_tmpdir();
	struct store s;
	struct err e;
	char stage[512], dead[512];
	struct stat st;
	bool waited;
	int fd;

	setenv("BANGER_HOME", t, 1);
	CHECK(store_init(&s, &e) == 0);
	fd = store_lock(&s, "images", "deb", &waited, &e);
	CHECK(fd >= 0 && !waited);
	CHECK(store_staging(&s, "images", "deb", stage, sizeof(stage), &e) == 0);
	CHECK(stat(stage, &st) == 0 && S_ISDIR(st.st_mode));
	/* A staging dir of a PID that cannot exist is swept; ours is kept. */
	path_joinf(dead, sizeof(dead), &e, t, "images/.deb.staging.%d", 999999999);
	CHECK(mkdir(dead, 0755) == 0);
	store_sweep_staging(&s, "images", "deb");
	CHECK(stat(dead, &st) == -1);
	CHECK(stat(stage, &st) == 0);
	close(fd);
	path_remove_tree(t, &e);
}

int main(void)
{
	HARNESS_BEGIN("store");
	RUN(home_from_env);
	RUN(names_are_checked);
	RUN(staging_lock_and_sweep);
	HARNESS_END();
}
