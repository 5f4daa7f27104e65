/* log.c — see log.h. One line per write(2) so concurrent writers never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
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

/* Escapes in[0..n) into out (room bytes): returns the bytes written, and
 * in *used how much of in they stand for. */
static size_t escape(const char *in, size_t n, char *out, size_t room, size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i = 0;

	for (; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		bool c1 = c == 0xc2 && i + 1 < n && (unsigned char)in[i + 1] >= 0x80 &&
			  (unsigned char)in[i + 1] <= 0x9f;

		if (c1)
			c = (unsigned char)in[i + 1];
		if (c < 0x20 || c == 0x7f || c1) {
			if (o + 4 > room)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
			i += c1;
		} else if (c == '\\') {
			if (o + 2 > room)
				break;
			out[o++] = '\\';
			out[o++] = '\\';
		} else {
			if (o + 1 > room)
				break;
			out[o++] = (char)c;
		}
	}
	*used = i;
	return o;
}

const char *log_escape(const char *in, char *out, size_t size)
{
	size_t n = strlen(in), used, o;

	if (size < 5) {
		if (size)
			out[0] = '\0';
		return out;
	}
	o = escape(in, n, out, size - 1, &used);
	if (used < n) /* cut: say so, on a character boundary of what is kept */
		o = escape(in, n, out, size - 4, &used);
	if (used < n) {
		while (o && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
			o--;
		if (o && (unsigned char)out[o - 1] >= 0xc0)
			o--;
		memcpy(out + o, "…", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const color[] = { "\033[31m", "\033[33m", "", "\033[2m" };
	static const char *const tag[] = { "", "warning: ", "", "" };
	char line[1024], msg[1024];
	size_t n = 0, used;
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
	r = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* room for colour reset and newline */
	n += escape(msg,
		    r < 0		      ? 0
		    : (size_t)r < sizeof(msg) ? (size_t)r
					      : sizeof(msg) - 1,
		    line + n, sizeof(line) - 6 - n, &used);
	if (log_state.color && *color[lvl]) {
		memcpy(line + n, "\033[0m", 4);
		n += 4;
	}
	line[n++] = '\n';
	if (write(2, line, n) < 0) {
		/* nowhere left to report to */
	}
}
