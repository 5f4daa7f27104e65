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

static void say_outside(void)
{
	/* As a registry or a reference could word it. */
	log_error("'%s': %s", "ho\x1b[2Jst\r/x",
		  "denied\x07 — \xc2\x9b"
		  "31m \\ ok\n");
}

/* Outside text cannot drive the terminal: controls come out as \xNN. */
static void control_characters_escaped(void)
{
	char out[512], small[12];

	log_init("image-pull");
	capture(say_outside, out, sizeof(out));
	CHECK_STR(out, "banger: image-pull: 'ho\\x1b[2Jst\\x0d/x': denied\\x07 — \\x9b31m "
		       "\\\\ ok\\x0a\n");
	CHECK_STR(log_escape("tab\there", out, sizeof(out)), "tab\\x09here");
	CHECK_STR(log_escape("plain — text", out, sizeof(out)), "plain — text");
	CHECK_STR(log_escape("\x7f\x01", out, sizeof(out)), "\\x7f\\x01");
	CHECK_STR(log_escape("abcdefghijklmnop", small, sizeof(small)), "abcdefgh…");
	CHECK_STR(log_escape("\x1b\x1b\x1b", small, sizeof(small)), "\\x1b\\x1b…");
	CHECK_STR(log_escape("abcdefg", small, sizeof(small)), "abcdefg");
}

int main(void)
{
	HARNESS_BEGIN("log");
	RUN(prefix_and_levels);
	RUN(long_lines_end_with_newline);
	RUN(control_characters_escaped);
	HARNESS_END();
}
