/* identity.h — what makes a guest itself, re-applied after a restore.
 *
 * A VM started from a snapshot (vm start --from, vm run's boot cache) goes
 * on as the guest that was saved: its hostname, address, machine-id, RNG
 * state and clock. The host sends one AP_IDENTITY request (channel 0)
 * right after the restore; the agent applies it and answers OK, or ERROR
 * naming the first part that failed (it applies the others anyway).
 *
 * This file is the request's JSON both ways: pure, no I/O, never blocks.
 *
 *   {"time_sec":S,"time_nsec":N,           host CLOCK_REALTIME when sent
 *    "entropy":"BASE64",                   host random bytes for the CRNG
 *    "machine_id":"32 hex",                a fresh /etc/machine-id
 *    "hostname":"vm2",                     sethostname, /etc/hostname, /etc/hosts
 *    "ip":"10.0.0.3","prefix":24,"gateway":"10.0.0.1",  eth0, tap networking only
 *    "dev":"eth0"}
 * Every member but time_sec is optional.
 */
#ifndef BANGER_IDENTITY_H
#define BANGER_IDENTITY_H

#include <stddef.h>

#include "limits.h"

struct err;

#define IDENTITY_ENTROPY 64 /* bytes the host sends (<= LIMIT_AGENT_ENTROPY) */

struct ap_identity {
	long long time_sec;
	long time_nsec;
	unsigned char entropy[LIMIT_AGENT_ENTROPY];
	size_t nentropy;
	char machine_id[33]; /* "" none */
	char hostname[65];   /* "" none */
	char ip[16];	     /* "" none: leave the network alone */
	char gateway[16];    /* "" none */
	int prefix;
	char dev[16]; /* "" means eth0 */
};

/* The request's JSON text (malloc'd, caller frees); NULL with e set
 * (EXIT_SYSTEM) when out of memory. */
char *identity_to_json(const struct ap_identity *id, struct err *e);

/* Parses and checks a request: time present, entropy at most
 * LIMIT_AGENT_ENTROPY, machine_id 32 lowercase hex, hostname valid, ip and
 * gateway dotted IPv4, prefix 0..32, dev a short name. EXIT_VERIFY naming
 * the member otherwise. */
int identity_from_json(const char *text, size_t len, struct ap_identity *id, struct err *e);

#endif
