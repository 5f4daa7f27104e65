/* pgp.c — see pgp.h. */
#include "deb/pgp.h"
#include "base64.h"
#include "err.h"
#include "exitcode.h"

#include <bearssl_hash.h>
#include <bearssl_rsa.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	TAG_SIG = 2,
	TAG_PUBKEY = 6,
	TAG_PUBSUBKEY = 14,
	ALGO_RSA = 1,
	ALGO_RSA_SIGN = 3,
	HASH_SHA256 = 8,
	HASH_SHA384 = 9,
	HASH_SHA512 = 10,
	SUB_CREATED = 2,
	SUB_EXPIRES = 3,
	SUB_ISSUER = 16,
	SUB_ISSUER_FPR = 33,
};

/* A bounded reader over bytes we do not trust. */
struct rd {
	const uint8_t *p;
	size_t n;
};

static bool get(struct rd *r, size_t k, const uint8_t **out)
{
	if (r->n < k)
		return false;
	*out = r->p;
	r->p += k;
	r->n -= k;
	return true;
}

static bool get8(struct rd *r, unsigned *v)
{
	const uint8_t *b;

	if (!get(r, 1, &b))
		return false;
	*v = b[0];
	return true;
}

static bool get16(struct rd *r, size_t *v)
{
	const uint8_t *b;

	if (!get(r, 2, &b))
		return false;
	*v = (size_t)b[0] << 8 | b[1];
	return true;
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* One packet: header (old or new format) and body. Partial and
 * indeterminate lengths never occur in keys or signatures: refused. */
static int packet(struct rd *r, unsigned *tag, struct rd *body, const char *what, struct err *e)
{
	unsigned b, o1, o2;
	size_t len;
	const uint8_t *p;

	if (!get8(r, &b) || !(b & 0x80))
		return err_set(e, EXIT_VERIFY, "%s: not an OpenPGP packet", what);
	if (b & 0x40) {
		*tag = b & 0x3f;
		if (!get8(r, &o1))
			goto short_;
		if (o1 < 192) {
			len = o1;
		} else if (o1 < 224) {
			if (!get8(r, &o2))
				goto short_;
			len = ((size_t)(o1 - 192) << 8) + o2 + 192;
		} else if (o1 == 255) {
			if (!get(r, 4, &p))
				goto short_;
			len = be32(p);
		} else {
			return err_set(e, EXIT_VERIFY,
				       "%s: partial-length packet — not a key or "
				       "signature",
				       what);
		}
	} else {
		static const size_t width[] = { 1, 2, 4, 0 };
		size_t w = width[b & 3];

		*tag = (b >> 2) & 0xf;
		if (!w)
			return err_set(e, EXIT_VERIFY, "%s: packet of indeterminate length", what);
		if (!get(r, w, &p))
			goto short_;
		len = 0;
		for (size_t i = 0; i < w; i++)
			len = len << 8 | p[i];
	}
	if (!get(r, len, &p))
		goto short_;
	body->p = p;
	body->n = len;
	return 0;
short_:
	return err_set(e, EXIT_VERIFY, "%s: truncated OpenPGP packet", what);
}

/* A multiprecision integer: 2-byte bit count, then the bytes. */
static bool mpi(struct rd *r, const uint8_t **v, size_t *len)
{
	size_t bits;

	if (!get16(r, &bits))
		return false;
	*len = (bits + 7) / 8;
	if (!get(r, *len, v))
		return false;
	/* Leading zero bytes are not canonical; skip them so lengths compare. */
	while (*len && !**v) {
		(*v)++;
		(*len)--;
	}
	return true;
}

void pgp_keyring_init(struct pgp_keyring *kr)
{
	memset(kr, 0, sizeof(*kr));
}

void pgp_keyring_fini(struct pgp_keyring *kr)
{
	free(kr->keys);
	pgp_keyring_init(kr);
}

static int add_key(struct pgp_keyring *kr, struct rd body, const char *what, struct err *e)
{
	struct rd r = body;
	const uint8_t *hdr, *n, *x;
	size_t nlen, xlen;
	unsigned ver, algo;
	struct pgp_key *k;
	br_sha1_context sha;
	uint8_t pre[3] = { 0x99, (uint8_t)(body.n >> 8), (uint8_t)body.n };

	if (!get8(&r, &ver) || ver != 4) {
		kr->skipped++; /* v3 keys are long retired, v6 not used by Debian */
		return 0;
	}
	if (!get(&r, 4, &hdr) || !get8(&r, &algo))
		return err_set(e, EXIT_VERIFY, "%s: truncated public key packet", what);
	if (algo != ALGO_RSA && algo != ALGO_RSA_SIGN) {
		kr->skipped++;
		return 0;
	}
	if (!mpi(&r, &n, &nlen) || !mpi(&r, &x, &xlen) || r.n)
		return err_set(e, EXIT_VERIFY, "%s: malformed RSA public key", what);
	if (nlen < 2048 / 8 || nlen > LIMIT_PGP_RSA_BITS / 8 || !xlen || xlen > 8)
		return err_set(e, EXIT_VERIFY,
			       "%s: RSA key of %zu bits — want 2048 to %d bits and a small "
			       "exponent",
			       what, nlen * 8, LIMIT_PGP_RSA_BITS);
	if (body.n > 0xffff)
		return err_set(e, EXIT_VERIFY, "%s: public key packet too long", what);
	if (kr->n >= LIMIT_PGP_KEYS)
		return err_set(e, EXIT_VERIFY, "%s: more than %d keys", what, LIMIT_PGP_KEYS);
	k = realloc(kr->keys, (kr->n + 1) * sizeof(*k));
	if (!k)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	kr->keys = k;
	k = &kr->keys[kr->n++];
	memset(k, 0, sizeof(*k));
	memcpy(k->n, n, nlen);
	k->nlen = nlen;
	memcpy(k->e, x, xlen);
	k->elen = xlen;
	br_sha1_init(&sha);
	br_sha1_update(&sha, pre, 3);
	br_sha1_update(&sha, body.p, body.n);
	br_sha1_out(&sha, k->fpr);
	return 0;
}

/* Strips ASCII armor: the base64 between the armor headers' blank line and
 * the "=CRC" line or the END line, decoded into a heap buffer. */
static int dearmor(const char *s, size_t len, const char *what, uint8_t **out, size_t *outlen,
		   struct err *e)
{
	const char *end = s + len, *p = s, *body = NULL;
	char *text = malloc(len + 1);
	size_t tlen = 0;
	int rc;

	if (!text)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	/* Skip the BEGIN line and the armor headers. */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t l = (size_t)(le - p);

		while (l && (p[l - 1] == '\r' || p[l - 1] == ' '))
			l--;
		if (body) {
			if (l >= 5 && !memcmp(p, "-----", 5))
				break;
			if (l && *p == '=')
				break; /* the optional CRC-24: the signatures decide */
			memcpy(text + tlen, p, l);
			tlen += l;
		} else if (!l && p != s) {
			body = p;
		}
		p = nl ? nl + 1 : end;
	}
	if (!body || p >= end) {
		free(text);
		return err_set(e, EXIT_VERIFY, "%s: malformed ASCII armor", what);
	}
	*out = malloc(tlen ? tlen : 1);
	if (!*out) {
		free(text);
		return err_set(e, EXIT_SYSTEM, "out of memory");
	}
	rc = base64_decode(text, tlen, *out, tlen ? tlen : 1, outlen, e);
	free(text);
	if (rc < 0) {
		free(*out);
		*out = NULL;
		return err_prefix(e, "%s: armor", what);
	}
	return 0;
}

int pgp_keyring_add(struct pgp_keyring *kr, const void *data, size_t len, const char *what,
		    struct err *e)
{
	uint8_t *bin = NULL;
	size_t before = kr->n;
	struct rd r = { data, len };
	int rc = 0;

	if (len > LIMIT_PGP_KEYRING)
		return err_set(e, EXIT_VERIFY, "%s: keyring larger than %d bytes", what,
			       LIMIT_PGP_KEYRING);
	if (len >= 5 && !memcmp(data, "-----", 5)) {
		if (dearmor(data, len, what, &bin, &r.n, e) < 0)
			return -1;
		r.p = bin;
	}
	while (r.n && rc == 0) {
		struct rd body;
		unsigned tag;

		rc = packet(&r, &tag, &body, what, e);
		if (rc == 0 && (tag == TAG_PUBKEY || tag == TAG_PUBSUBKEY))
			rc = add_key(kr, body, what, e);
	}
	free(bin);
	if (rc == 0 && kr->n == before)
		rc = err_set(e, EXIT_VERIFY,
			     "%s: no RSA key in the keyring — give a keyring that holds the "
			     "archive's signing keys (gpg --export)",
			     what);
	return rc;
}

/* ---- signatures ------------------------------------------------------ */

struct hasher {
	const br_hash_class *cls;
	br_hash_compat_context ctx;
	const unsigned char *oid;
	size_t len;
};

static bool hasher_init(struct hasher *h, unsigned algo)
{
	switch (algo) {
	case HASH_SHA256:
		h->cls = &br_sha256_vtable, h->oid = BR_HASH_OID_SHA256, h->len = 32;
		break;
	case HASH_SHA384:
		h->cls = &br_sha384_vtable, h->oid = BR_HASH_OID_SHA384, h->len = 48;
		break;
	case HASH_SHA512:
		h->cls = &br_sha512_vtable, h->oid = BR_HASH_OID_SHA512, h->len = 64;
		break;
	default:
		return false; /* SHA-1 and MD5 are not accepted */
	}
	h->cls->init(&h->ctx.vtable);
	return true;
}

static void hash(struct hasher *h, const void *p, size_t n)
{
	h->cls->update(&h->ctx.vtable, p, n);
}

/* The signed text in canonical form (RFC 4880 §7.1): trailing spaces and
 * tabs dropped, lines joined with CRLF, no line ending after the last. */
static void hash_text(struct hasher *h, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	bool first = true;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = (size_t)(nl - p); /* text always ends with '\n' */

		while (l && (p[l - 1] == ' ' || p[l - 1] == '\t' || p[l - 1] == '\r'))
			l--;
		if (!first)
			hash(h, "\r\n", 2);
		hash(h, p, l);
		first = false;
		p = nl + 1;
	}
}

struct sig {
	unsigned algo, hash;
	const uint8_t *hashed; /* version .. end of the hashed subpackets */
	size_t hashed_len;
	const uint8_t *issuer_fpr, *issuer_id;
	const uint8_t *left16, *s;
	size_t slen;
	int64_t created, expires; /* expires: seconds after created, 0 none */
	bool unknown_critical;
};

static bool subpackets(struct rd r, struct sig *s, bool hashed)
{
	while (r.n) {
		unsigned o1, o2, type;
		size_t len;
		const uint8_t *p;
		struct rd sub;

		if (!get8(&r, &o1))
			return false;
		if (o1 < 192) {
			len = o1;
		} else if (o1 < 255) {
			if (!get8(&r, &o2))
				return false;
			len = ((size_t)(o1 - 192) << 8) + o2 + 192;
		} else {
			if (!get(&r, 4, &p))
				return false;
			len = be32(p);
		}
		if (!len || !get(&r, len, &p))
			return false;
		sub.p = p + 1;
		sub.n = len - 1;
		type = p[0] & 0x7f;
		if (type == SUB_CREATED && hashed && sub.n == 4)
			s->created = be32(sub.p);
		else if (type == SUB_EXPIRES && hashed && sub.n == 4)
			s->expires = be32(sub.p);
		else if (type == SUB_ISSUER_FPR && sub.n == 21 && sub.p[0] == 4)
			s->issuer_fpr = sub.p + 1;
		else if (type == SUB_ISSUER && sub.n == 8)
			s->issuer_id = sub.p;
		else if ((p[0] & 0x80) && hashed)
			s->unknown_critical = true;
	}
	return true;
}

static int parse_sig(struct rd body, struct sig *s, const char *what, struct err *e)
{
	struct rd r = body, sub;
	unsigned ver, type;
	size_t hl, ul;

	memset(s, 0, sizeof(*s));
	s->hashed = body.p;
	if (!get8(&r, &ver))
		goto bad;
	if (ver != 4)
		return 1; /* not ours to judge: skipped */
	if (!get8(&r, &type) || !get8(&r, &s->algo) || !get8(&r, &s->hash) || !get16(&r, &hl) ||
	    !get(&r, hl, &sub.p))
		goto bad;
	sub.n = hl;
	if (!subpackets(sub, s, true))
		goto bad;
	s->hashed_len = (size_t)(r.p - body.p);
	if (!get16(&r, &ul) || !get(&r, ul, &sub.p))
		goto bad;
	sub.n = ul;
	if (!subpackets(sub, s, false) || !get(&r, 2, &s->left16))
		goto bad;
	if (type != 0x01)
		return err_set(e, EXIT_VERIFY,
			       "%s: signature of class 0x%02x — a cleartext document needs a "
			       "text signature (0x01)",
			       what, type);
	if (s->algo == ALGO_RSA || s->algo == ALGO_RSA_SIGN) {
		if (!mpi(&r, &s->s, &s->slen) || r.n)
			goto bad;
	}
	return 0;
bad:
	return err_set(e, EXIT_VERIFY, "%s: malformed signature packet", what);
}

static const struct pgp_key *find_key(const struct pgp_keyring *kr, const struct sig *s)
{
	for (size_t i = 0; i < kr->n; i++) {
		const struct pgp_key *k = &kr->keys[i];

		if (s->issuer_fpr ? !memcmp(k->fpr, s->issuer_fpr, 20)
				  : s->issuer_id && !memcmp(k->fpr + 12, s->issuer_id, 8))
			return k;
	}
	return NULL;
}

static void hexfpr(const uint8_t fpr[20], char out[41])
{
	for (int i = 0; i < 20; i++)
		snprintf(out + 2 * i, 3, "%02X", fpr[i]);
}

/* 1: verified; 0: skipped (unknown key or algorithm); -1: refused. */
static int check_sig(const struct pgp_keyring *kr, const struct sig *s, const char *text,
		     size_t tlen, int64_t now, const char *what, char signer[41], struct err *e)
{
	const struct pgp_key *k = find_key(kr, s);
	struct hasher h;
	uint8_t digest[64], got[64], sig[LIMIT_PGP_RSA_BITS / 8], trailer[6];
	br_rsa_public_key pk;
	char fpr[41];
	size_t hl = s->hashed_len;

	if (!k || (s->algo != ALGO_RSA && s->algo != ALGO_RSA_SIGN) || s->unknown_critical ||
	    !hasher_init(&h, s->hash))
		return 0;
	hexfpr(k->fpr, fpr);
	if (s->expires && now > s->created + s->expires)
		return err_set(e, EXIT_VERIFY,
			       "%s: the signature by %s expired — the mirror serves a stale "
			       "InRelease",
			       what, fpr);
	if (s->slen > k->nlen)
		return err_set(e, EXIT_VERIFY, "%s: signature longer than the key %s", what, fpr);
	hash_text(&h, text, tlen);
	hash(&h, s->hashed, hl);
	trailer[0] = 4;
	trailer[1] = 0xff;
	trailer[2] = (uint8_t)(hl >> 24);
	trailer[3] = (uint8_t)(hl >> 16);
	trailer[4] = (uint8_t)(hl >> 8);
	trailer[5] = (uint8_t)hl;
	hash(&h, trailer, sizeof(trailer));
	h.cls->out(&h.ctx.vtable, digest);
	/* BearSSL wants the signature as long as the modulus. */
	memset(sig, 0, k->nlen - s->slen);
	memcpy(sig + k->nlen - s->slen, s->s, s->slen);
	pk.n = (unsigned char *)k->n;
	pk.nlen = k->nlen;
	pk.e = (unsigned char *)k->e;
	pk.elen = k->elen;
	if (memcmp(digest, s->left16, 2) ||
	    !br_rsa_pkcs1_vrfy_get_default()(sig, k->nlen, h.oid, h.len, &pk, got) ||
	    memcmp(got, digest, h.len))
		return err_set(e, EXIT_VERIFY,
			       "%s: BAD signature by key %s — the file was altered or the mirror "
			       "is compromised; refusing it",
			       what, fpr);
	if (signer)
		memcpy(signer, fpr, 41);
	return 1;
}

/* The next line of [*p, end): its start and length without '\n' or '\r'. */
static bool next_line(const char **p, const char *end, const char **line, size_t *len)
{
	const char *nl;

	if (*p >= end)
		return false;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	*line = *p;
	*len = (size_t)((nl ? nl : end) - *p);
	*p = nl ? nl + 1 : end;
	if (*len && (*line)[*len - 1] == '\r')
		(*len)--;
	return true;
}

static bool is_line(const char *line, size_t len, const char *want)
{
	size_t w = strlen(want);

	while (len > w && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	return len == w && !memcmp(line, want, w);
}

static bool blank(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return false;
	return true;
}

int pgp_verify_cleartext(const struct pgp_keyring *kr, const char *doc, size_t len, int64_t now,
			 const char *what, char **out, size_t *outlen, char signer[41],
			 struct err *e)
{
	const char *p = doc, *end = doc + len, *line, *armor = NULL;
	char *text = NULL;
	uint8_t *bin = NULL;
	size_t l, tlen = 0, nsig = 0, good = 0;
	struct rd r;
	int rc = -1;

	*out = NULL;
	if (len > LIMIT_INRELEASE)
		return err_set(e, EXIT_VERIFY, "%s: larger than %d bytes", what, LIMIT_INRELEASE);
	/* Nothing may precede the signed message: it would not be covered. */
	if (!next_line(&p, end, &line, &l) ||
	    !is_line(line, l, "-----BEGIN PGP SIGNED MESSAGE-----"))
		return err_set(e, EXIT_VERIFY,
			       "%s: not a cleartext-signed document (no BEGIN PGP SIGNED MESSAGE "
			       "line) — is the mirror URL right?",
			       what);
	/* Armor headers ("Hash: SHA256") up to a blank line; the signature
	 * packets name their hash themselves. */
	for (;;) {
		if (!next_line(&p, end, &line, &l))
			goto malformed;
		if (!l)
			break;
		if (l > 256 || !memchr(line, ':', l))
			goto malformed;
	}
	text = malloc(len + 1);
	if (!text) {
		err_set(e, EXIT_SYSTEM, "out of memory");
		goto out;
	}
	while (next_line(&p, end, &line, &l)) {
		if (is_line(line, l, "-----BEGIN PGP SIGNATURE-----")) {
			armor = line;
			break;
		}
		if (l >= 2 && line[0] == '-' && line[1] == ' ') {
			line += 2; /* dash-escaped */
			l -= 2;
		} else if (l && line[0] == '-') {
			goto malformed; /* another armor line inside the text */
		}
		while (l && (line[l - 1] == ' ' || line[l - 1] == '\t'))
			l--;
		memcpy(text + tlen, line, l);
		tlen += l;
		text[tlen++] = '\n';
	}
	if (!armor)
		goto malformed;
	{
		const char *aend = NULL, *q = armor;

		while (next_line(&q, end, &line, &l))
			if (is_line(line, l, "-----END PGP SIGNATURE-----")) {
				aend = q;
				break;
			}
		if (!aend || (size_t)(aend - armor) > LIMIT_PGP_ARMOR)
			goto malformed;
		if (!blank(aend, end))
			return free(text),
			       err_set(e, EXIT_VERIFY,
				       "%s: text after the signature — refusing what it does not "
				       "cover",
				       what);
		if (dearmor(armor, (size_t)(aend - armor), what, &bin, &r.n, e) < 0)
			goto out;
	}
	r.p = bin;
	while (r.n) {
		struct rd body;
		struct sig s;
		unsigned tag;
		int k;

		if (packet(&r, &tag, &body, what, e) < 0)
			goto out;
		if (tag != TAG_SIG) {
			err_set(e, EXIT_VERIFY, "%s: packet of type %u in the signature block",
				what, tag);
			goto out;
		}
		if (++nsig > LIMIT_PGP_SIGS) {
			err_set(e, EXIT_VERIFY, "%s: more than %d signatures", what,
				LIMIT_PGP_SIGS);
			goto out;
		}
		k = parse_sig(body, &s, what, e);
		if (k < 0)
			goto out;
		if (k > 0)
			continue;
		k = check_sig(kr, &s, text, tlen, now, what, good ? NULL : signer, e);
		if (k < 0)
			goto out;
		good += (size_t)k;
	}
	if (!good) {
		err_set(e, EXIT_VERIFY,
			"%s: none of its %zu signatures is by a trusted key — check the keyring "
			"(--keyring / $BANGER_DEB_KEYRING) or the mirror",
			what, nsig);
		goto out;
	}
	text[tlen] = '\0';
	*out = text;
	*outlen = tlen;
	text = NULL;
	rc = 0;
	goto out;
malformed:
	err_set(e, EXIT_VERIFY, "%s: malformed cleartext signature framing", what);
out:
	free(text);
	free(bin);
	return rc;
}
