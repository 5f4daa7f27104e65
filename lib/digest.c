/* digest.c — see digest.h. */
#include "digest.h"
#include "err.h"
#include "exitcode.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void sha256_init(struct sha256 *h)
{
	br_sha256_init(&h->ctx);
}

void sha256_update(struct sha256 *h, const void *p, size_t n)
{
	br_sha256_update(&h->ctx, p, n);
}

void sha256_hex(struct sha256 *h, char hex[DIGEST_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char out[br_sha256_SIZE];

	br_sha256_out(&h->ctx, out);
	for (size_t i = 0; i < sizeof(out); i++) {
		hex[2 * i] = digits[out[i] >> 4];
		hex[2 * i + 1] = digits[out[i] & 15];
	}
	hex[DIGEST_HEX_LEN] = '\0';
}

bool digest_is_hex(const char *s)
{
	size_t i;

	for (i = 0; i < DIGEST_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

int digest_parse(const char *s, const char *what, char hex[DIGEST_HEX_LEN + 1], struct err *e)
{
	const char *h = !strncmp(s, "sha256:", 7) ? s + 7 : s;

	if (!digest_is_hex(h))
		return err_set(e, EXIT_VERIFY,
			       "%s: '%.80s' is not a sha256 digest (64 lowercase hex digits)", what,
			       s);
	memcpy(hex, h, DIGEST_HEX_LEN + 1);
	return 0;
}

int sha256_file(const char *path, char hex[DIGEST_HEX_LEN + 1], struct err *e)
{
	unsigned char buf[65536];
	struct sha256 h;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_errno(e, 0, "%s: cannot open", path);
	sha256_init(&h);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_errno(e, 0, "%s: read", path);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		sha256_update(&h, buf, (size_t)n);
	}
	close(fd);
	sha256_hex(&h, hex);
	return 0;
}
