/* Unit tests: lib/deb/pgp.c — real InRelease files from Debian's mirror
 * checked against the debian-archive-keyring banger carries, and the same
 * files tampered with: one byte of the text, the signature, the framing. */
#include "harness.h"

#include "deb/pgp.h"
#include "embed.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"

#include <stdlib.h>
#include <string.h>

#define NOW 1790000000 /* 2026-09: inside the bookworm keys' validity */

static struct pgp_keyring kr;

static char *slurp(const char *path, size_t *len)
{
	struct err e;
	char *d = NULL;

	err_init(&e);
	if (file_read_all(path, 1 << 24, &d, len, &e) < 0) {
		printf("  %s: %s\n", path, e.msg);
		exit(2);
	}
	return d;
}

static int verify(const char *doc, size_t len, char **out, size_t *olen, char *signer,
		  struct err *e)
{
	err_init(e);
	return pgp_verify_cleartext(&kr, doc, len, NOW, "InRelease", out, olen, signer, e);
}

static void keyring(void)
{
	struct embedded k = embedded_debian_keyring();
	struct pgp_keyring arm;
	struct err e;
	char *asc;
	size_t len;

	err_init(&e);
	pgp_keyring_init(&kr);
	CHECK(pgp_keyring_add(&kr, k.data, k.size, "debian-archive-keyring.gpg", &e) == 0);
	/* bullseye, bookworm, trixie: automatic and security primaries and
	 * their signing subkeys, plus bullseye's RSA release key. */
	CHECK(kr.n == 13);
	CHECK(kr.skipped == 2); /* the Ed25519 stable release keys of 12 and 13 */
	/* The armored form of one key gives the same key. */
	asc = slurp("/etc/apt/trusted.gpg.d/debian-archive-bookworm-automatic.asc", &len);
	pgp_keyring_init(&arm);
	CHECK(pgp_keyring_add(&arm, asc, len, "bookworm-automatic.asc", &e) == 0);
	CHECK(arm.n == 2 && !memcmp(arm.keys[0].fpr,
				    "\xB8\xB8\x0B\x5B\x62\x3E\xAB\x6A\xD8\x77"
				    "\x5C\x45\xB7\xC5\xD7\xD6\x35\x09\x47\xF8",
				    20));
	free(asc);
	pgp_keyring_fini(&arm);
	/* Not a keyring. */
	pgp_keyring_init(&arm);
	CHECK(pgp_keyring_add(&arm, "hello", 5, "x", &e) < 0 && e.code == EXIT_VERIFY);
	CHECK(pgp_keyring_add(&arm, k.data, 100, "x", &e) < 0 && e.code == EXIT_VERIFY);
	pgp_keyring_fini(&arm);
}

static void real_inrelease(void)
{
	static const char *const files[] = { "tests/data/deb/bookworm-updates.InRelease",
					     "tests/data/deb/bookworm-security.InRelease" };

	for (size_t i = 0; i < 2; i++) {
		size_t len, olen;
		char *doc = slurp(files[i], &len), *out = NULL, signer[41] = "";
		struct err e;

		CHECK(verify(doc, len, &out, &olen, signer, &e) == 0);
		if (e.code)
			printf("  %s: %s\n", files[i], e.msg);
		CHECK(out && !strncmp(out, "Origin: Debian\n", 15) && strlen(out) == olen);
		CHECK(out && strstr(out, "SHA256:\n") && !strstr(out, "BEGIN PGP"));
		CHECK(strlen(signer) == 40);
		free(out);
		free(doc);
	}
}

static void tampered(void)
{
	size_t len, olen;
	char *doc = slurp("tests/data/deb/bookworm-updates.InRelease", &len), *out;
	char *copy = malloc(len + 64), *p;
	struct err e;

	/* One byte of a checksum. */
	memcpy(copy, doc, len);
	p = strstr(copy, "SHA256:\n ") + 9;
	*p = *p == '0' ? '1' : '0';
	CHECK(verify(copy, len, &out, &olen, NULL, &e) < 0 && e.code == EXIT_VERIFY &&
	      strstr(e.msg, "BAD signature"));
	/* A byte of the signature itself. */
	memcpy(copy, doc, len);
	p = strstr(copy, "-----BEGIN PGP SIGNATURE-----\n\n") + 31 + 200;
	*p = *p == 'A' ? 'B' : 'A';
	CHECK(verify(copy, len, &out, &olen, NULL, &e) < 0 && e.code == EXIT_VERIFY);
	/* Text before the signed message, or after the signature. */
	memcpy(copy, "Suite: evil\n", 12);
	memcpy(copy + 12, doc, len);
	CHECK(verify(copy, len + 12, &out, &olen, NULL, &e) < 0 && e.code == EXIT_VERIFY);
	memcpy(copy, doc, len);
	memcpy(copy + len, "Suite: evil\n", 12);
	CHECK(verify(copy, len + 12, &out, &olen, NULL, &e) < 0 && strstr(e.msg, "after"));
	/* Trailing whitespace and CR do not change what is signed. */
	memcpy(copy, doc, len);
	p = strstr(copy, "\nSuite: ");
	memmove(p + 2, p, (size_t)(copy + len - p));
	memcpy(p, " \r", 2);
	CHECK(verify(copy, len + 2, &out, &olen, NULL, &e) == 0);
	free(out);
	/* Truncated anywhere: refused, never a crash. */
	for (size_t cut = 0; cut < len; cut += len / 97 + 1)
		CHECK(verify(doc, cut, &out, &olen, NULL, &e) < 0 && e.code == EXIT_VERIFY);
	/* Untrusted key: a keyring without the signers. */
	{
		struct pgp_keyring saved = kr;

		kr.n = 1; /* bullseye automatic only */
		CHECK(verify(doc, len, &out, &olen, NULL, &e) < 0 && strstr(e.msg, "trusted"));
		kr = saved;
	}
	free(copy);
	free(doc);
}

int main(void)
{
	HARNESS_BEGIN("pgp");
	RUN(keyring);
	RUN(real_inrelease);
	RUN(tampered);
	pgp_keyring_fini(&kr);
	HARNESS_END();
}
