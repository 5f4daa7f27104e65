/* cmdline.c — see cmdline.h. */
#include "guest/cmdline.h"
#include "base64.h"
#include "err.h"
#include "exitcode.h"
#include "units.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int cmdline_parse(struct cmdline *c, const char *text, size_t len, struct err *e)
{
	size_t i = 0, o = 0;

	c->nword = 0;
	if (len > LIMIT_CMDLINE)
		return err_set(e, EXIT_VERIFY, "kernel command line: %zu bytes, more than %d", len,
			       LIMIT_CMDLINE);
	while (i < len) {
		bool quoted = false;

		while (i < len && is_space(text[i]))
			i++;
		if (i >= len || !text[i])
			break;
		if (c->nword >= LIMIT_CMDLINE_WORDS)
			return err_set(e, EXIT_VERIFY, "kernel command line: more than %d words",
				       LIMIT_CMDLINE_WORDS);
		char *w = c->buf + o;
		for (; i < len && text[i] && (quoted || !is_space(text[i])); i++) {
			if (text[i] == '"')
				quoted = !quoted;
			else
				c->buf[o++] = text[i];
		}
		if (quoted)
			return err_set(e, EXIT_VERIFY,
				       "kernel command line: unterminated quote in \"%.40s\"", w);
		c->buf[o++] = '\0';
		if (!strcmp(w, "--"))
			break;
		c->word[c->nword++] = w;
	}
	/* Every word is terminated already; a full line (o == len + 1 ==
	 * sizeof(buf)) has no room for another NUL, and needs none. */
	if (!o)
		c->buf[0] = '\0';
	return 0;
}

const char *cmdline_get(const struct cmdline *c, const char *key)
{
	size_t klen = strlen(key);
	const char *found = NULL;

	for (int i = 0; i < c->nword; i++) {
		const char *w = c->word[i];

		if (strncmp(w, key, klen))
			continue;
		if (w[klen] == '=')
			found = w + klen + 1;
		else if (!w[klen])
			found = "";
	}
	return found;
}

/* Module names compare with '-' and '_' equal, as modprobe does. */
static bool modname_prefix(const char *w, const char *mod, size_t *len)
{
	size_t i = 0;

	for (; mod[i]; i++) {
		char a = w[i] == '-' ? '_' : w[i], b = mod[i] == '-' ? '_' : mod[i];

		if (a != b)
			return false;
	}
	*len = i;
	return w[i] == '.';
}

int cmdline_module_params(const struct cmdline *c, const char *module, char *out, size_t size,
			  struct err *e)
{
	size_t o = 0, mlen;

	if (size)
		out[0] = '\0';
	for (int i = 0; i < c->nword; i++) {
		const char *w = c->word[i], *p;
		bool quote;

		if (!modname_prefix(w, module, &mlen))
			continue;
		p = w + mlen + 1;
		/* A value with spaces goes back in quotes, as the kernel expects. */
		quote = strchr(p, ' ') != NULL;
		size_t need = strlen(p) + (o ? 1 : 0) + (quote ? 2 : 0);
		if (o + need + 1 > size)
			return err_set(e, EXIT_VERIFY,
				       "%s: module parameters longer than %zu bytes", module, size);
		if (o)
			out[o++] = ' ';
		if (quote) {
			const char *eq = strchr(p, '=');
			size_t k = eq ? (size_t)(eq - p) + 1 : 0;

			memcpy(out + o, p, k);
			o += k;
			out[o++] = '"';
			memcpy(out + o, p + k, strlen(p + k));
			o += strlen(p + k);
			out[o++] = '"';
		} else {
			memcpy(out + o, p, strlen(p));
			o += strlen(p);
		}
		out[o] = '\0';
	}
	return 0;
}

bool hostname_is_valid(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (!len || len > 64)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char ch = s[i];

		if (ch == '.' || !ch) {
			if (!label || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-'))
			return false;
		if (ch == '-' && !label)
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

/* The first problem wins; later ones are dropped (one line on the console). */
static void problem(struct err *e, int *rc, const char *fmt, const char *a, const char *b)
{
	if (*rc == 0)
		err_set(e, EXIT_VERIFY, fmt, a, b);
	*rc = -1;
}

static int parse_seconds(const char *v, int max, int *out)
{
	uint64_t n;

	if (parse_u64(v, 10, (uint64_t)max, &n) < 0)
		return -1;
	*out = (int)n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "true") || !*v) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "false")) {
		*out = false;
		return 0;
	}
	return -1;
}

/* Splits a comma list copied into buf; n is capped at max. */
static int split_list(const char *v, char *buf, const char **items, int max, int *n)
{
	size_t len = strlen(v);
	char *p;

	memcpy(buf, v, len + 1);
	*n = 0;
	for (p = buf; *p;) {
		char *comma = strchr(p, ',');

		if (comma)
			*comma = '\0';
		if (*p) {
			if (*n >= max)
				return -1;
			items[(*n)++] = p;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

static bool unit_name_ok(const char *u)
{
	if (!*u || strlen(u) > LIMIT_NAME || !strchr(u, '.'))
		return false;
	for (; *u; u++)
		if (*u == '/' || *u <= ' ' || *u == '\\')
			return false;
	return true;
}

static void parse_ssh_key(struct guest_config *g, const char *v, struct err *e, int *rc)
{
	struct err be;

	err_init(&be);
	if (base64_decode(v, strlen(v), (unsigned char *)g->ssh_keys, LIMIT_SSH_KEYS,
			  &g->ssh_keys_len, &be) < 0) {
		problem(e, rc, "banger.ssh_key: %s — pass the authorized_keys line%s", be.msg,
			" base64-encoded");
		g->ssh_keys_len = 0;
	} else if (memchr(g->ssh_keys, '\0', g->ssh_keys_len)) {
		problem(e, rc, "banger.ssh_key: %s%s", "decoded key contains a NUL byte",
			" — pass authorized_keys text");
		g->ssh_keys_len = 0;
	}
	g->ssh_keys[g->ssh_keys_len] = '\0';
}

static void parse_dns(struct guest_config *g, const char *v, struct err *e, int *rc)
{
	unsigned char addr[16];

	if (split_list(v, g->dns_buf, g->dns, LIMIT_DNS_SERVERS, &g->ndns) < 0) {
		problem(e, rc, "banger.dns: more than %s servers%s", "3", " — pass at most 3");
		g->ndns = 0;
		return;
	}
	for (int i = 0; i < g->ndns; i++) {
		if (inet_pton(AF_INET, g->dns[i], addr) == 1 ||
		    inet_pton(AF_INET6, g->dns[i], addr) == 1)
			continue;
		problem(e, rc, "banger.dns: '%s' is not an IP address%s", g->dns[i],
			" — pass addresses, comma-separated");
		g->ndns = 0;
		return;
	}
}

static void parse_mask(struct guest_config *g, const char *v, struct err *e, int *rc)
{
	if (split_list(v, g->mask_buf, g->mask, LIMIT_MASK_UNITS, &g->nmask) < 0) {
		problem(e, rc, "banger.mask: too many units%s%s", "", " — mask fewer");
		g->nmask = 0;
		return;
	}
	for (int i = 0; i < g->nmask; i++) {
		if (unit_name_ok(g->mask[i]))
			continue;
		problem(e, rc, "banger.mask: '%s' is not a unit name%s", g->mask[i],
			" — pass names like dev-vdc.device");
		g->nmask = 0;
		return;
	}
}

/* A guest path a mount may go to: absolute, no "..", nothing that would
 * end a field of banger.tmpfs. */
static bool mount_dir_ok(const char *d)
{
	size_t len = strlen(d);

	return d[0] == '/' && len > 1 && len < LIMIT_PATH && !strpbrk(d, ",: \t\"") &&
	       !strstr(d, "/../") && !(len >= 3 && !strcmp(d + len - 3, "/.."));
}

static void parse_tmpfs(struct guest_config *g, const char *v, struct err *e, int *rc)
{
	if (split_list(v, g->tmpfs_buf, g->tmpfs_dir, LIMIT_TMPFS, &g->ntmpfs) < 0) {
		problem(e, rc, "banger.tmpfs: too many mounts%s%s", "", " — give at most 8");
		g->ntmpfs = 0;
		return;
	}
	for (int i = 0; i < g->ntmpfs; i++) {
		char *size = strchr(g->tmpfs_dir[i], ':'),
		     *mode = size ? strchr(size + 1, ':') : NULL;
		uint64_t b = 0, m = 01777;

		if (size)
			*size++ = '\0';
		if (mode)
			*mode++ = '\0';
		if (!mount_dir_ok(g->tmpfs_dir[i]) ||
		    (size && *size && parse_u64(size, 10, LIMIT_SIZE, &b) < 0) ||
		    (mode && *mode && parse_u64(mode, 8, 07777, &m) < 0)) {
			problem(e, rc, "banger.tmpfs: '%s' is not DIR:BYTES:MODE%s",
				g->tmpfs_dir[i],
				" — an absolute path, a byte count, an octal mode");
			g->ntmpfs = 0;
			return;
		}
		g->tmpfs_bytes[i] = b;
		g->tmpfs_mode[i] = (unsigned)m;
	}
}

static int mask_prefix(const char *m)
{
	struct in_addr a;
	uint64_t n;

	if (!*m)
		return 24;
	if (parse_u64(m, 10, 32, &n) == 0)
		return (int)n;
	if (inet_pton(AF_INET, m, &a) != 1)
		return -1;
	uint32_t v = ntohl(a.s_addr), bits = 0;
	while (v & 0x80000000u) {
		bits++;
		v <<= 1;
	}
	return v ? -1 : (int)bits;
}

/* ip=CLIENT:SERVER:GW:MASK:HOST:DEV:AUTOCONF:DNS0:DNS1 (static only). */
static void parse_ip(struct guest_config *g, const char *v, struct err *e, int *rc)
{
	char *f[10] = { 0 }, *p;
	struct in_addr a;
	int n = 0;

	g->ip_addr = NULL;
	if (!strcmp(v, "off") || !strcmp(v, "none"))
		return;
	memcpy(g->ip_buf, v, strlen(v) + 1);
	for (p = g->ip_buf; n < 10;) {
		f[n++] = p;
		p = strchr(p, ':');
		if (!p)
			break;
		*p++ = '\0';
	}
	for (int i = n; i < 10; i++)
		f[i] = "";
	if (inet_pton(AF_INET, f[0], &a) != 1) {
		problem(e, rc, "ip=%s: only the static form ADDR::GW:MASK::DEV:off is understood%s",
			v, " (no DHCP in first-boot)");
		return;
	}
	if ((*f[2] && inet_pton(AF_INET, f[2], &a) != 1) || mask_prefix(f[3]) < 0 ||
	    (*f[6] && strcmp(f[6], "off") && strcmp(f[6], "none")) || strchr(f[5], '/') ||
	    strlen(f[5]) >= 16) {
		problem(e, rc, "ip=%s: bad gateway, netmask, device or autoconf%s", v,
			" — use ADDR::GW:MASK::DEV:off");
		return;
	}
	g->ip_addr = f[0];
	g->ip_gw = *f[2] ? f[2] : NULL;
	g->ip_prefix = mask_prefix(f[3]);
	g->ip_dev = *f[5] ? f[5] : "eth0";
	if (!g->ndns) {
		for (int i = 7; i <= 8; i++)
			if (*f[i] && inet_pton(AF_INET, f[i], &a) == 1)
				g->dns[g->ndns++] = f[i];
	}
}

int guest_config_parse(struct guest_config *g, const struct cmdline *c, struct err *e)
{
	int rc = 0;

	memset(g, 0, sizeof(*g));
	g->install = true;
	g->install_timeout_s = 300;
	g->resize = true;
	g->shutdown_timeout_s = 5;
	g->root_timeout_s = 30;
	g->rootfstype = "ext4";

	for (int i = 0; i < c->nword; i++) {
		const char *w = c->word[i], *eq = strchr(w, '=');
		const char *v = eq ? eq + 1 : "";
		size_t klen = eq ? (size_t)(eq - w) : strlen(w);
		char key[64];

		if (klen >= sizeof(key))
			continue;
		memcpy(key, w, klen);
		key[klen] = '\0';

		if (!strcmp(key, "rw")) {
			g->root_rw = true;
		} else if (!strcmp(key, "ro")) {
			g->root_rw = false;
			g->root_ro_explicit = true;
		} else if (!strcmp(key, "root") && eq) {
			g->root = v;
		} else if (!strcmp(key, "rootfstype") && eq && *v) {
			g->rootfstype = v;
		} else if (!strcmp(key, "rootflags") && eq) {
			g->rootflags = v;
		} else if (!strcmp(key, "ip") && eq) {
			parse_ip(g, v, e, &rc);
		} else if (!strcmp(key, "init") && eq && *v) {
			g->init_path = v;
		} else if (strncmp(key, "banger.", 7)) {
			continue;
		} else if (!strcmp(key, "banger.hostname")) {
			if (hostname_is_valid(v))
				g->hostname = v;
			else
				problem(e, &rc, "banger.hostname: '%s' is not a valid hostname%s",
					v, " — use letters, digits, '-' and '.'");
		} else if (!strcmp(key, "banger.upper")) {
			if (!strncmp(v, "/dev/", 5) && v[5] && !strchr(v + 5, '/'))
				g->upper = v;
			else
				problem(e, &rc, "banger.upper: '%s' is not /dev/NAME%s", v,
					" — banger sets it; remove it from the command line");
		} else if (!strcmp(key, "banger.ssh_key")) {
			parse_ssh_key(g, v, e, &rc);
		} else if (!strcmp(key, "banger.dns")) {
			parse_dns(g, v, e, &rc);
		} else if (!strcmp(key, "banger.mask")) {
			parse_mask(g, v, e, &rc);
		} else if (!strcmp(key, "banger.tmpfs")) {
			parse_tmpfs(g, v, e, &rc);
		} else if (!strcmp(key, "banger.init")) {
			if (!strcmp(v, "auto"))
				g->init = INIT_AUTO;
			else if (!strcmp(v, "systemd"))
				g->init = INIT_SYSTEMD;
			else if (!strcmp(v, "minimal"))
				g->init = INIT_MINIMAL;
			else
				problem(e, &rc, "banger.init: '%s' unknown%s", v,
					" — use auto, systemd or minimal");
		} else if (!strcmp(key, "banger.halt")) {
			if (!strcmp(v, "auto"))
				g->halt = HALT_AUTO;
			else if (!strcmp(v, "poweroff"))
				g->halt = HALT_POWEROFF;
			else if (!strcmp(v, "reboot"))
				g->halt = HALT_REBOOT;
			else
				problem(e, &rc, "banger.halt: '%s' unknown%s", v,
					" — use auto, poweroff or reboot");
		} else if (!strcmp(key, "banger.install") || !strcmp(key, "banger.resize")) {
			bool *b = key[7] == 'i' ? &g->install : &g->resize;
			if (parse_bool(v, b) < 0)
				problem(e, &rc, "%s: '%s' is not a boolean — use 0 or 1", key, v);
		} else if (!strcmp(key, "banger.install_timeout") ||
			   !strcmp(key, "banger.shutdown_timeout") ||
			   !strcmp(key, "banger.root_timeout")) {
			int *t = key[7] == 'i'	 ? &g->install_timeout_s
				 : key[7] == 's' ? &g->shutdown_timeout_s
						 : &g->root_timeout_s;
			if (parse_seconds(v, 86400, t) < 0)
				problem(e, &rc, "%s: '%s' is not a number of seconds (0..86400)",
					key, v);
		} else {
			problem(e, &rc, "%s: unknown parameter%s — see docs/first-boot.md", key,
				"");
		}
	}
	return rc;
}
