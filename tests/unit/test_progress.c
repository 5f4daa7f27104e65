/* Unit tests: lib/progress.c — formatting, and silence off a TTY. */
#include "harness.h"

#include "progress.h"

static void sizes_are_human(void)
{
	char b[32];

	format_size(512, b, sizeof(b));
	CHECK_STR(b, "512 B");
	format_size(1536, b, sizeof(b));
	CHECK_STR(b, "1.5 KiB");
	format_size(3ULL << 30, b, sizeof(b));
	CHECK_STR(b, "3.0 GiB");
}

static void line_shows_percent_and_fits(void)
{
	struct progress p;
	char line[200];

	progress_init(&p, "vmlinux", 1000);
	p.done = 250;
	progress_format(&p, p.start_ms + 1000, 80, line, sizeof(line));
	CHECK(strstr(line, "vmlinux") == line);
	CHECK(strstr(line, " 25% [") != NULL);
	CHECK(strstr(line, "250 B/1000 B 250 B/s") != NULL);
	CHECK(strlen(line) <= 80);
	p.total = 0;
	progress_format(&p, p.start_ms + 1000, 80, line, sizeof(line));
	CHECK_STR(line, "vmlinux 250 B 250 B/s");
	/* A tiny buffer truncates safely. */
	p.total = 1000;
	progress_format(&p, p.start_ms, 80, line, 10);
	CHECK(strlen(line) < 10);
}

static void silent_without_tty(void)
{
	struct progress p;

	/* Under the test runner stderr is a file or pipe, never a TTY. */
	progress_init(&p, "x", 10);
	progress_add(&p, 10);
	CHECK(!p.active && !p.drawn && p.done == 10);
	progress_fini(&p);
}

int main(void)
{
	HARNESS_BEGIN("progress");
	RUN(sizes_are_human);
	RUN(line_shows_percent_and_fits);
	RUN(silent_without_tty);
	HARNESS_END();
}
