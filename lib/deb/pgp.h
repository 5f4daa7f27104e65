/* pgp.h — the OpenPGP subset Debian's archive uses: a keyring of RSA
 * public keys and subkeys, and cleartext-signed documents (InRelease)
 * checked against it (RFC 4880 / RFC 9580, v4 packets only).
 *
 * What is checked: v4 signatures of class 0x01 (canonical text) made with
 * RSA (PKCS#1 v1.5, BearSSL) over SHA-256, SHA-384 or SHA-512, by a key or
 * subkey present in the keyring (found by the issuer fingerprint
 * subpacket, else the issuer key ID), not past their own expiry time.
 * A document passes when at least one signature verifies and no signature
 * by a keyring key fails; signatures by other keys, with other algorithms
 * (Debian's stable release keys are Ed25519, which BearSSL lacks: the
 * archive's RSA automatic keys sign every InRelease too) or with critical
 * subpackets we do not know are skipped.
 *
 * What is not: the keyring is trusted as a whole (it is banger's own
 * config/ file or one the user names): binding signatures, key expiry and
 * revocations inside it are not evaluated — the debian-archive-keyring
 * package it comes from drops retired keys instead.
 *
 * Every length from the input is checked against LIMIT_PGP_* (limits.h).
 * Never blocks, never prints; errors are EXIT_VERIFY naming `what`.
 */
#ifndef BANGER_PGP_H
#define BANGER_PGP_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

struct err;

struct pgp_key {
	uint8_t fpr[20]; /* v4 fingerprint: SHA-1 of the key packet */
	uint8_t n[LIMIT_PGP_RSA_BITS / 8];
	size_t nlen;
	uint8_t e[8];
	size_t elen;
};

/* Caller-owned (pgp_keyring_init/fini); keys on the heap. */
struct pgp_keyring {
	struct pgp_key *keys;
	size_t n;
	size_t skipped; /* keys with algorithms we cannot check (Ed25519) */
};

void pgp_keyring_init(struct pgp_keyring *kr);
void pgp_keyring_fini(struct pgp_keyring *kr);

/* Adds the keys of data (len bytes): a binary keyring (`gpg --export`,
 * the .gpg files of /usr/share/keyrings) or an ASCII-armored one (.asc). EXIT_VERIFY
 * on malformed packets or a keyring without a single RSA key. */
int pgp_keyring_add(struct pgp_keyring *kr, const void *data, size_t len, const char *what,
		    struct err *e);

/* Verifies the cleartext-signed doc (len bytes, at most LIMIT_INRELEASE)
 * against kr at time now (seconds since the epoch, for signature expiry).
 * On success *out (malloc'd, NUL-terminated, *outlen bytes; caller frees)
 * holds exactly the signed text, dash-escaping removed, each line ended by
 * '\n', and signer (when non-NULL) the hex fingerprint of the key that
 * verified. Nothing outside the signed text is ever returned. */
int pgp_verify_cleartext(const struct pgp_keyring *kr, const char *doc, size_t len, int64_t now,
			 const char *what, char **out, size_t *outlen, char signer[41],
			 struct err *e);

#endif
