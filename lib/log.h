/* log.h — messages to stderr, prefixed "banger: APPLET: ".
 *
 * The one process-wide setting in lib/: who is speaking and how loudly,
 * set once by the dispatcher. Logging never fails and never allocates.
 * Colour only on a TTY and only when NO_COLOR is unset (no-color.org).
 */
#ifndef BANGER_LOG_H
#define BANGER_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Called by the dispatcher: applet name for the prefix, default LOG_INFO. */
void log_init(const char *applet);
/* -v raises, -q lowers the level (by one step each call). */
void log_more(void);
void log_less(void);
enum log_level log_level(void);
const char *log_applet(void);
/* Colour is used on fd 2 (computed once in log_init). */
bool log_color(void);
/* Overrides the TTY/NO_COLOR decision (guest daemons: the console is a log). */
void log_set_color(bool on);

/* One line to stderr: "banger: APPLET: message". Control characters in the
 * message (outside text: references, registry and catalog words) are
 * escaped as log_escape does, so they cannot drive the terminal. */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies in to out (size bytes, always terminated; cut with "…" when it
 * does not fit), with C0 controls, DEL and C1 controls (U+0080..U+009F)
 * written as \xNN and a backslash as \\. For outside text printed to a
 * terminal (listings). Returns out. Never fails. */
const char *log_escape(const char *in, char *out, size_t size);
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
