/* fuzz-pgp — lib/deb/pgp.c, the OpenPGP subset that checks the Debian
 * archive. First byte even: the rest is a keyring (binary or armored);
 * odd: an InRelease checked against banger's own keyring
 * (config/debian-archive-keyring.gpg). Both are placed against a guard
 * page. Invariants: keys parsed stay within their fields; a document that
 * verifies yields only text that was in it (each returned line is a line
 * of the input), its length as said, and a 40-hex signer; a refusal says
 * why. Without the archive's private keys nothing mutated may verify —
 * a pass of a non-seed input would show up as a returned line not in it. */
#include "fuzz.h"

#include "deb/pgp.h"
#include "err.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct pgp_keyring archive;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char buf[LIMIT_PGP_KEYRING];
	int fd = open(FUZZ_TOP "/config/debian-archive-keyring.gpg", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	struct err e;

	err_init(&e);
	pgp_keyring_init(&archive);
	if (n <= 0 || pgp_keyring_add(&archive, buf, (size_t)n, "archive keyring", &e) < 0) {
		fprintf(stderr, "fuzz-pgp: cannot load the archive keyring: %s\n", e.msg);
		abort();
	}
	close(fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p;
	struct err e;

	if (size < 1)
		return 0;
	p = guard_place(data + 1, size - 1);
	err_init(&e);
	if (!(data[0] & 1)) {
		struct pgp_keyring kr;

		pgp_keyring_init(&kr);
		if (pgp_keyring_add(&kr, p, size - 1, "fuzz keyring", &e) == 0) {
			FUZZ_CHECK(kr.n >= 1 && kr.n <= LIMIT_PGP_KEYS);
			for (size_t i = 0; i < kr.n; i++)
				FUZZ_CHECK(kr.keys[i].nlen <= sizeof(kr.keys[i].n) &&
					   kr.keys[i].elen <= sizeof(kr.keys[i].e));
		} else {
			FUZZ_CHECK(e.msg[0]);
		}
		pgp_keyring_fini(&kr);
		return 0;
	}
	char *out = NULL, signer[41];
	size_t outlen = 0;

	if (pgp_verify_cleartext(&archive, p, size - 1, (int64_t)time(NULL), "fuzz InRelease", &out,
				 &outlen, signer, &e) < 0) {
		FUZZ_CHECK(e.msg[0]);
		free(out);
		return 0;
	}
	FUZZ_CHECK(out && strlen(out) == outlen && outlen <= size - 1);
	FUZZ_CHECK(strlen(signer) == 40 && strspn(signer, "0123456789abcdefABCDEF") == 40);
	for (char *line = out; *line;) {
		char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line) : strlen(line);

		FUZZ_CHECK(memmem(p, size - 1, line, l));
		line += l + (nl ? 1 : 0);
	}
	free(out);
	return 0;
}
