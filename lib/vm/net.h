/* net.h — the VM network: a bridge, a tap per VM, addresses, NAT.
 *
 * Links and addresses are made with rtnetlink (NETLINK_ROUTE) and the tun
 * ioctls, never by running `ip`. NAT is nftables (`nft -f -`), or iptables
 * where nft is missing. A bridge is host state, shared by every store on
 * the host: its addresses come from one lease file per bridge and network
 * namespace, /run/banger/net/NETNS/BRIDGE.leases ("ADDRESS OWNER" lines,
 * OWNER the VM's directory) guarded by a lock, so they survive restarts and
 * are never handed out twice, whichever store asks. VMs without a tap lease
 * an identity from their store's net/leases ("ADDRESS NAME"). See docs/vm.md.
 *
 * The subnet is BANGER_SUBNET ("172.30.0.1/24" by default: the bridge's own
 * address and prefix) and the bridge name BANGER_BRIDGE ("banger0").
 */
#ifndef BANGER_NET_H
#define BANGER_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct err;

#define NET_DEFAULT_SUBNET "172.30.0.1/24"
#define NET_DEFAULT_BRIDGE "banger0"
#define NET_IFNAME_MAX 15
#define NET_RUN_DIR "/run/banger"

/* Addresses in host byte order. */
struct net_config {
	char bridge[NET_IFNAME_MAX + 1];
	uint32_t gateway; /* the bridge's address */
	int prefix;	  /* 1..30 */
};

/* Reads BANGER_SUBNET and BANGER_BRIDGE (or the defaults). EXIT_USAGE when
 * they are malformed. Never blocks. */
int net_config_init(struct net_config *c, struct err *e);

/* Parses "A.B.C.D/N" (N 1..30). */
int net_parse_cidr(const char *s, uint32_t *addr, int *prefix, struct err *e);

/* Dotted quad of a host-order address into out (at least 16 bytes). */
void net_ntoa(uint32_t a, char *out, size_t size);
uint32_t net_mask(int prefix);

/* The kernel's `ip=` parameter:
 * ip=GUEST::GATEWAY:NETMASK:HOSTNAME:eth0:off[:DNS]  (dns 0: none).
 * EXIT_USAGE when the hostname has characters the kernel would misparse. */
int net_ip_arg(char *out, size_t size, uint32_t guest, uint32_t gateway, int prefix,
	       const char *hostname, uint32_t dns, struct err *e);

/* Picks the lowest free host address of the subnet (not the network, the
 * gateway or the broadcast address) given the current lease text. Pure;
 * -1 with EXIT_BUSY when the subnet is full. */
int net_lease_pick(const char *leases, const struct net_config *c, uint32_t *out, struct err *e);

/* Leases an address for name in leases_file (lock: leases_file + ".lock").
 * If name already holds one in the subnet, returns that. Blocks on the lock. */
int net_lease_get(const char *leases_file, const struct net_config *c, const char *name,
		  uint32_t *out, struct err *e);
/* Host leases (see above): the file of bridge in this network namespace
 * (BANGER_RUN_DIR, else NET_RUN_DIR, then net/NETNS-INODE/BRIDGE.leases)
 * into out. */
int net_host_leases(const char *bridge, char *out, size_t size, struct err *e);
/* Like net_lease_get on the bridge's host file, for owner (an absolute VM
 * directory). Leases whose owner's store is gone are dropped; a lease outside
 * c's subnet is EXIT_BUSY (the bridge serves another subnet). Blocks on the
 * lock. */
int net_host_lease_get(const struct net_config *c, const char *owner, uint32_t *out, struct err *e);
/* net_lease_put on the bridge's host file; *remaining counts every store's
 * leases on that bridge. */
int net_host_lease_put(const char *bridge, const char *owner, int *remaining, struct err *e);

/* Drops name's lease; *remaining is the number of leases left (may be
 * NULL). A missing lease is fine. Blocks on the lock. */
int net_lease_put(const char *leases_file, const char *name, int *remaining, struct err *e);

/* Tap name for a guest address: "bgtapN", N the host part. */
void net_tap_name(const struct net_config *c, uint32_t guest, char *out, size_t size);

/* Creates the bridge if missing, gives it the gateway address, sets it up;
 * *created (may be NULL) says whether this call made it. Needs
 * CAP_NET_ADMIN. Blocks on netlink only. */
int net_bridge_ensure(const struct net_config *c, bool *created, struct err *e);

/* Creates a persistent tap owned by uid (-1: unchanged), attaches it to the
 * bridge, sets it up. An existing tap of that name is reused. */
int net_tap_create(const char *tap, const char *bridge, uid_t uid, struct err *e);

/* Deletes a link by name; a missing link is fine. */
int net_link_delete(const char *name, struct err *e);

/* NAT for one guest: masquerade its traffic leaving through any other
 * interface and forward it, enables net.ipv4.ip_forward. Uses nft, else
 * iptables (run as child processes). tag names the rules so they can be
 * removed (the tap name). */
int net_nat_add(const struct net_config *c, uint32_t guest, const char *tag, struct err *e);
/* Removes what net_nat_add made; missing rules are fine. */
int net_nat_del(const struct net_config *c, uint32_t guest, const char *tag, struct err *e);

/* A locally administered MAC derived from the guest address, into out (18 bytes). */
void net_mac(uint32_t guest, char *out, size_t size);

#endif
