/* log.c — see log.h. One line per write(2) so concurrent writers never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
	const char *applet;
	enum log_level level;
	bool color;
} log_state = { "banger", LOG_INFO, false };

void log_init(const char *applet)
{
	const char *nc = getenv("NO_COLOR");

	log_state.applet = applet;
	log_state.level = LOG_INFO;
	log_state.color = isatty(2) && !(nc && *nc);
}

void log_more(void)
{
	if (log_state.level < LOG_DEBUG)
		log_state.level++;
}

void log_less(void)
{
	if (log_state.level > LOG_ERROR)
		log_state.level--;
}

enum log_level log_level(void)
{
	return log_state.level;
}

const char *log_applet(void)
{
	return log_state.applet;
}

bool log_color(void)
{
	return log_state.color;
}

void log_set_color(bool on)
{
	log_state.color = on;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const color[] = { "\033[31m", "\033[33m", "", "\033[2m" };
	static const char *const tag[] = { "", "warning: ", "", "" };
	char line[1024];
	size_t n = 0;
	va_list ap;
	int r;

	if (lvl > log_state.level)
		return;
	/* The multiplexer itself speaks as plain "banger: ". */
	bool self = !strcmp(log_state.applet, "banger");
	r = snprintf(line, sizeof(line), "%sbanger: %s%s%s", log_state.color ? color[lvl] : "",
		     self ? "" : log_state.applet, self ? "" : ": ", tag[lvl]);
	n = r < 0 ? 0 : (size_t)r < sizeof(line) ? (size_t)r : sizeof(line) - 1;
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n += r < 0 ? 0 : (size_t)r;
	if (n > sizeof(line) - 6)
		n = sizeof(line) - 6; /* room for colour reset and newline */
	if (log_state.color && *color[lvl]) {
		memcpy(line + n, "\033[0m", 4);
		n += 4;
	}
	line[n++] = '\n';
	if (write(2, line, n) < 0) {
		/* nowhere left to report to */
	}
}
