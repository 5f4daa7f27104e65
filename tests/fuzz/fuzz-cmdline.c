/* fuzz-cmdline — lib/guest/cmdline.c. The input is the command line as the
 * kernel gives it (not NUL-terminated: it ends at an unreadable page).
 * Invariants: nothing is written past buf; every word lies inside buf;
 * the words, written back (quoted where they hold blanks), split into the
 * same words; guest_config_parse never fails without saying why. */
#include "fuzz.h"

#include "err.h"
#include "guest/cmdline.h"

#include <stddef.h>

static struct {
	struct cmdline c;
	unsigned char canary[64];
} w;
static struct cmdline again;
static struct guest_config g;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = guard_place(data, size);
	size_t end = offsetof(struct cmdline, buf) + sizeof(w.c.buf);
	char line[3 * LIMIT_CMDLINE];
	size_t o = 0;
	struct err e;

	memset(&w, 0xa5, sizeof(w));
	err_init(&e);
	if (cmdline_parse(&w.c, text, size, &e) < 0) {
		FUZZ_CHECK(e.msg[0]);
		return 0;
	}
	for (size_t i = end; i < offsetof(struct cmdline, word); i++)
		FUZZ_CHECK(((unsigned char *)&w.c)[i] == 0xa5);
	FUZZ_CHECK(w.c.nword >= 0 && w.c.nword <= LIMIT_CMDLINE_WORDS);
	for (int i = 0; i < w.c.nword; i++) {
		const char *word = w.c.word[i];
		size_t n;

		FUZZ_CHECK(word >= w.c.buf && word < w.c.buf + sizeof(w.c.buf));
		n = strnlen(word, (size_t)(w.c.buf + sizeof(w.c.buf) - word));
		FUZZ_CHECK(word + n < w.c.buf + sizeof(w.c.buf));
		FUZZ_CHECK(!strchr(word, '"'));
		bool q = !n || strpbrk(word, " \t\r\n");
		o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%s%s%s", i ? " " : "",
				      q ? "\"" : "", word, q ? "\"" : "");
	}
	if (o <= LIMIT_CMDLINE) {
		err_init(&e);
		FUZZ_CHECK(cmdline_parse(&again, line, o, &e) == 0);
		FUZZ_CHECK(again.nword == w.c.nword);
		for (int i = 0; i < w.c.nword; i++)
			FUZZ_CHECK(!strcmp(again.word[i], w.c.word[i]));
	}
	err_init(&e);
	if (guest_config_parse(&g, &w.c, &e) < 0)
		FUZZ_CHECK(e.msg[0]);
	FUZZ_CHECK(g.ndns <= LIMIT_DNS_SERVERS && g.nmask <= LIMIT_MASK_UNITS);
	FUZZ_CHECK(g.ssh_keys_len <= LIMIT_SSH_KEYS);
	if (g.hostname)
		FUZZ_CHECK(hostname_is_valid(g.hostname));
	return 0;
}
