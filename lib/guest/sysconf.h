/* sysconf.h — the per-VM settings first-boot writes into a root tree.
 *
 * Every function takes the root directory (normally "/"; a test tree or an
 * image being prepared otherwise) and is idempotent: applying the same
 * setting twice leaves the same files, and a file that already says what we
 * want is not rewritten. Files are replaced atomically (file.h). Nothing
 * here prints or exits; each call reports its first failure in e. Blocks
 * only on local disk I/O.
 */
#ifndef BANGER_SYSCONF_H
#define BANGER_SYSCONF_H

#include <stdbool.h>
#include <stddef.h>

struct err;

/* Writes ROOT/etc/hostname and keeps one "127.0.1.1 NAME" line, marked
 * "# banger", in ROOT/etc/hosts (creating it with localhost lines when
 * missing). *changed tells whether a file was rewritten. */
int sysconf_hostname(const char *root, const char *name, bool *changed, struct err *e);

/* Adds each line of keys (authorized_keys lines) to
 * ROOT/root/.ssh/authorized_keys unless already there (dir 0700, file 0600,
 * owned by root). Returns the number of lines added, or -1. */
int sysconf_ssh_keys(const char *root, const char *keys, struct err *e);

/* Writes ROOT/etc/resolv.conf with these nameservers (replacing a symlink,
 * e.g. to systemd-resolved's stub, with a file). */
int sysconf_dns(const char *root, const char *const *servers, int n, bool *changed, struct err *e);

/* Installs a systemd unit into dir (e.g. /run/systemd/system): dir/name
 * holds text, and each WantedBy= target of its [Install] section gets the
 * link dir/TARGET.wants/name -> ../name, as systemctl enable makes. */
int sysconf_install_unit(const char *dir, const char *name, const char *text, size_t len,
			 struct err *e);

/* Masks each systemd unit: ROOT/etc/systemd/system/UNIT -> /dev/null. A
 * unit file already there (an administrator's) is left alone. Returns the
 * number of links created, or -1. */
int sysconf_mask_units(const char *root, const char *const *units, int n, struct err *e);

/* Looks up KEY in ROOT/etc/os-release (else ROOT/usr/lib/os-release) and
 * copies its unquoted value into out. 0 found, 1 absent, -1 error. */
int sysconf_os_release(const char *root, const char *key, char *out, size_t size, struct err *e);

#endif
