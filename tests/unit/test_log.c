/* Unit tests: lib/log.c — prefix, levels, NO_COLOR. */
#include "harness.h"

#include "log.h"

#include <fcntl.h>
#include <unistd.h>

/* Runs fn with stderr captured into out. */
static void capture(void (*fn)(void), char *out, size_t size)
{
	char path[] = "/tmp/banger-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	dup2(fd, 2);
	fn();
	dup2(saved, 2);
	close(saved);
	n = pread(fd, out, size - 1, 0);
	out[n < 0 ? 0 : n] = '\0';
	close(fd);
	unlink(path);
}

static void say_all(void)
{
	log_error("e %d", 1);
	log_warn("w");
	log_info("i");
	log_debug("d");
}

static void prefix_and_levels(void)
{
	char out[512];

	setenv("NO_COLOR", "1", 1);
	log_init("kernel-pull");
	capture(say_all, out, sizeof(out));
	CHECK_STR(out, "banger: kernel-pull: e 1\nbanger: kernel-pull: warning: w\n"
		       "banger: kernel-pull: i\n");
	log_more();
	capture(say_all, out, sizeof(out));
	CHECK(strstr(out, "banger: kernel-pull: d\n") != NULL);
	log_init("banger");
	log_less();
	log_less();
	log_less();
	capture(say_all, out, sizeof(out));
	CHECK_STR(out, "banger: e 1\n");
	CHECK(!log_color());
}

static void long_lines_end_with_newline(void)
{
	char big[3000], out[2048];

	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_init("x");
	log_error("%s", big);
	capture(say_all, out, sizeof(out)); /* warm-up: capture works */
	CHECK(strstr(out, "banger: x: e 1\n") == out);
}

int main(void)
{
	HARNESS_BEGIN("log");
	RUN(prefix_and_levels);
	RUN(long_lines_end_with_newline);
	HARNESS_END();
}
