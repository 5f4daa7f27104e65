/* cmdline.h — the kernel command line, and the banger.* parameters in it.
 *
 * cmdline_parse splits a command line the way the kernel does (whitespace
 * separated; double quotes group, and are removed) into a caller-owned
 * struct that keeps its own copy, so nothing points into the input. Words
 * after a lone "--" belong to init's argv and are not parameters.
 *
 * guest_config_parse reads the banger.* parameters (docs/first-boot.md) into
 * a struct guest_config whose strings point into the struct cmdline: keep
 * the cmdline alive as long as the config. Never blocks, never allocates.
 */
#ifndef BANGER_CMDLINE_H
#define BANGER_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"

struct err;

struct cmdline {
	char buf[LIMIT_CMDLINE + 1]; /* the words, NUL-separated, quotes removed */
	char *word[LIMIT_CMDLINE_WORDS];
	int nword;
};

/* Splits text (len bytes, need not be NUL-terminated; a trailing newline is
 * fine). Fails with EXIT_VERIFY when longer than LIMIT_CMDLINE, with more
 * than LIMIT_CMDLINE_WORDS words, or with an unterminated quote. */
int cmdline_parse(struct cmdline *c, const char *text, size_t len, struct err *e);

/* The value of the last "key=value" (the kernel's rule: the last one wins),
 * "" for a bare "key", NULL when key is absent. */
const char *cmdline_get(const struct cmdline *c, const char *key);

/* Collects the "MODULE.param=value" words for one module into out as
 * "param=value param2=value2" — what modprobe passes to the kernel when it
 * loads MODULE (dashes and underscores in MODULE are equivalent). Fails with
 * EXIT_VERIFY when out is too small. */
int cmdline_module_params(const struct cmdline *c, const char *module, char *out, size_t size,
			  struct err *e);

enum guest_init { INIT_AUTO, INIT_SYSTEMD, INIT_MINIMAL };
enum guest_halt { HALT_AUTO, HALT_POWEROFF, HALT_REBOOT };

struct guest_config {
	const char *hostname; /* banger.hostname, validated (RFC 1123), or NULL */
	/* banger.ssh_key: base64 (standard or URL-safe, padding optional) of
	 * authorized_keys lines; decoded here, NUL-terminated. */
	char ssh_keys[LIMIT_SSH_KEYS + 1];
	size_t ssh_keys_len;
	/* banger.dns=ADDR[,ADDR...]: validated IPv4/IPv6 nameservers */
	char dns_buf[LIMIT_CMDLINE + 1];
	const char *dns[LIMIT_DNS_SERVERS];
	int ndns;
	/* banger.mask=UNIT[,UNIT...]: systemd units masked besides the default
	 * dev-ttyS0.device and dev-vdb.device */
	char mask_buf[LIMIT_CMDLINE + 1];
	const char *mask[LIMIT_MASK_UNITS];
	int nmask;
	/* banger.tmpfs=DIR:BYTES:MODE[,...]: tmpfs mounts (vm run --mount
	 * type=tmpfs): DIR absolute, without "..", ',', ':' or spaces; BYTES 0
	 * for the kernel's default (half the RAM); MODE octal. */
	char tmpfs_buf[LIMIT_CMDLINE + 1];
	const char *tmpfs_dir[LIMIT_TMPFS];
	uint64_t tmpfs_bytes[LIMIT_TMPFS];
	unsigned tmpfs_mode[LIMIT_TMPFS];
	int ntmpfs;
	enum guest_init init;  /* banger.init=auto|systemd|minimal */
	bool install;	       /* banger.install=0 forbids installing systemd */
	int install_timeout_s; /* banger.install_timeout=SECONDS (default 300) */
	bool resize;	       /* banger.resize=0 keeps the root filesystem size */
	/* banger.halt=auto|poweroff|reboot: what a shutdown ends with; auto
	 * follows the signal (SIGINT, i.e. Ctrl-Alt-Del: reboot; else power off) */
	enum guest_halt halt;
	int shutdown_timeout_s; /* banger.shutdown_timeout=SECONDS before SIGKILL (default 5) */
	int root_timeout_s;	/* banger.root_timeout=SECONDS to wait for root= (default 30) */
	/* ip=ADDR::GW:MASK:HOST:DEV:off — the kernel's static form (Debian's
	 * kernel has no CONFIG_IP_PNP, so PID 1 applies it). IPv4; MASK may
	 * be a dotted mask or a prefix length (default 24), DEV default eth0;
	 * the 8th and 9th fields are nameservers used when banger.dns is
	 * absent. Validated; NULL addr when absent. */
	char ip_buf[LIMIT_CMDLINE + 1];
	const char *ip_addr, *ip_gw, *ip_dev;
	int ip_prefix;
	/* Standard kernel parameters the initramfs honours. */
	const char *root;	/* root= */
	const char *rootfstype; /* rootfstype= (default ext4) */
	const char *rootflags;	/* rootflags= */
	bool root_rw;		/* "rw" seen after any "ro" (kernel default: ro) */
	bool root_ro_explicit;	/* "ro" was given */
	const char *init_path;	/* init=, or NULL */
	/* banger.upper=/dev/NAME: the VM's writable layer. root= is then the
	 * shared image, mounted read-only under an overlay (docs/vm.md). */
	const char *upper;
};

/* Fills g with defaults, then with every valid banger.* and root parameter.
 * An invalid value is skipped and the parse goes on; the first problem is
 * reported (EXIT_VERIFY, naming the parameter and the fix) and -1 returned,
 * with every valid setting still in g — PID 1 applies what it can. Unknown
 * banger.* parameters are problems too (a typo must not pass silently). */
int guest_config_parse(struct guest_config *g, const struct cmdline *c, struct err *e);

/* True when s is a valid hostname: dot-separated labels of [A-Za-z0-9-],
 * 1..63 bytes each, not starting or ending with '-', at most 64 bytes. */
bool hostname_is_valid(const char *s);

#endif
