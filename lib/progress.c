/* progress.c — see progress.h. */
#include "progress.h"
#include "clock.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void progress_init(struct progress *p, const char *label, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->label = label;
	p->total = total;
	p->start_ms = p->last_ms = now_ms();
	p->active = isatty(2) && log_level() >= LOG_INFO;
}

void progress_format(const struct progress *p, uint64_t now, int width, char *buf, int size)
{
	char done[32], total[32], rate[32];
	uint64_t ms = now > p->start_ms ? now - p->start_ms : 0;
	int n, bar;

	format_size(p->done, done, sizeof(done));
	format_size(ms ? p->done * 1000 / ms : 0, rate, sizeof(rate));
	if (!p->total) {
		snprintf(buf, (size_t)size, "%s %s %s/s", p->label, done, rate);
		return;
	}
	format_size(p->total, total, sizeof(total));
	unsigned pct = p->done >= p->total ? 100 : (unsigned)(p->done * 100 / p->total);
	n = snprintf(buf, (size_t)size, "%s %3u%% [", p->label, pct);
	bar = width - n - (int)strlen(done) - (int)strlen(total) - (int)strlen(rate) - 8;
	if (bar > 40)
		bar = 40;
	for (int i = 0; i < bar && n < size - 1; i++)
		buf[n++] = i < (int)(pct * (unsigned)bar / 100) ? '#' : ' ';
	if (n < size)
		snprintf(buf + n, (size_t)(size - n), "] %s/%s %s/s", done, total, rate);
}

void progress_add(struct progress *p, uint64_t n)
{
	char line[256];
	struct winsize ws;
	uint64_t t;
	int width = 80, len;

	p->done += n;
	if (!p->active)
		return;
	t = now_ms();
	if (t - p->last_ms < 100 && !(p->total && p->done >= p->total))
		return;
	p->last_ms = t;
	if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		width = ws.ws_col < sizeof(line) - 8 ? ws.ws_col : (int)sizeof(line) - 8;
	line[0] = '\r';
	progress_format(p, t, width - 1, line + 1, width);
	len = (int)strlen(line);
	memcpy(line + len, "\033[K", 3); /* clear leftovers of a longer line */
	if (write(2, line, (size_t)len + 3) > 0)
		p->drawn = true;
}

void progress_fini(struct progress *p)
{
	if (p->drawn && write(2, "\r\033[K", 4) < 0) {
		/* terminal gone; nothing to clean */
	}
	p->drawn = false;
	p->active = false;
}
