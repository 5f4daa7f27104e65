/* net.c — see net.h. */
#include <net/if.h> /* before <linux/if.h> (pulled in by linux/if_tun.h) */

#include "vm/net.h"
#include "buf.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "limits.h"
#include "lock.h"
#include "path.h"
#include "proc.h"
#include "units.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int net_parse_cidr(const char *s, uint32_t *addr, int *prefix, struct err *e)
{
	char ip[16];
	const char *slash = strchr(s, '/');
	struct in_addr in;
	uint64_t p;

	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		goto bad;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	if (parse_u64(slash + 1, 10, 30, &p) < 0 || !p || inet_pton(AF_INET, ip, &in) != 1)
		goto bad;
	*addr = ntohl(in.s_addr);
	*prefix = (int)p;
	return 0;
bad:
	return err_set(e, EXIT_USAGE, "'%s': not an IPv4 subnet — write it like %s", s,
		       NET_DEFAULT_SUBNET);
}

uint32_t net_mask(int prefix)
{
	return prefix <= 0 ? 0 : 0xffffffffu << (32 - prefix);
}

void net_ntoa(uint32_t a, char *out, size_t size)
{
	snprintf(out, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

int net_config_init(struct net_config *c, struct err *e)
{
	const char *subnet = getenv("BANGER_SUBNET");
	const char *bridge = getenv("BANGER_BRIDGE");
	uint32_t host;

	if (!subnet || !*subnet)
		subnet = NET_DEFAULT_SUBNET;
	if (!bridge || !*bridge)
		bridge = NET_DEFAULT_BRIDGE;
	if (strlen(bridge) > NET_IFNAME_MAX || strchr(bridge, '/') || strchr(bridge, ' '))
		return err_set(e, EXIT_USAGE,
			       "BANGER_BRIDGE '%s': not an interface name (at most %d characters)",
			       bridge, NET_IFNAME_MAX);
	if (net_parse_cidr(subnet, &c->gateway, &c->prefix, e) < 0)
		return err_prefix(e, "BANGER_SUBNET");
	host = c->gateway & ~net_mask(c->prefix);
	if (host == 0 || host == ~net_mask(c->prefix))
		return err_set(e, EXIT_USAGE,
			       "BANGER_SUBNET '%s': give the bridge's own address, like %s", subnet,
			       NET_DEFAULT_SUBNET);
	snprintf(c->bridge, sizeof(c->bridge), "%s", bridge);
	return 0;
}

int net_ip_arg(char *out, size_t size, uint32_t guest, uint32_t gateway, int prefix,
	       const char *hostname, uint32_t dns, struct err *e)
{
	char g[16], gw[16], mask[16], d[16];
	int n;

	for (const char *p = hostname; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return err_set(e, EXIT_USAGE,
				       "'%s': not a valid hostname — use letters, digits, '-' and "
				       "'.'",
				       hostname);
	if (strlen(hostname) > 63)
		return err_set(e, EXIT_USAGE, "'%s': hostname longer than 63 characters", hostname);
	net_ntoa(guest, g, sizeof(g));
	net_ntoa(gateway, gw, sizeof(gw));
	net_ntoa(net_mask(prefix), mask, sizeof(mask));
	net_ntoa(dns, d, sizeof(d));
	n = snprintf(out, size, "ip=%s::%s:%s:%s:eth0:off%s%s", g, gw, mask, hostname,
		     dns ? ":" : "", dns ? d : "");
	if (n < 0 || (size_t)n >= size)
		return err_set(e, EXIT_VERIFY, "ip= parameter longer than %zu bytes", size - 1);
	return 0;
}

void net_tap_name(const struct net_config *c, uint32_t guest, char *out, size_t size)
{
	snprintf(out, size, "bgtap%u", guest & ~net_mask(c->prefix));
}

void net_mac(uint32_t guest, char *out, size_t size)
{
	/* 06: locally administered, unicast; the address makes it unique per VM. */
	snprintf(out, size, "06:00:%02x:%02x:%02x:%02x", guest >> 24, (guest >> 16) & 255,
		 (guest >> 8) & 255, guest & 255);
}

/* Lease lines: "A.B.C.D NAME\n". Calls fn for each well-formed line. */
static bool lease_in_use(const char *leases, uint32_t a)
{
	char ip[16];

	net_ntoa(a, ip, sizeof(ip));
	for (const char *l = leases; l && *l;) {
		size_t n = strlen(ip);
		const char *nl = strchr(l, '\n');

		if (!strncmp(l, ip, n) && l[n] == ' ')
			return true;
		l = nl ? nl + 1 : NULL;
	}
	return false;
}

int net_lease_pick(const char *leases, const struct net_config *c, uint32_t *out, struct err *e)
{
	uint32_t mask = net_mask(c->prefix), net = c->gateway & mask, bcast = net | ~mask;
	char gw[16];

	for (uint32_t a = net + 1; a < bcast; a++) {
		if (a == c->gateway || lease_in_use(leases, a))
			continue;
		*out = a;
		return 0;
	}
	net_ntoa(c->gateway, gw, sizeof(gw));
	return err_set(e, EXIT_BUSY,
		       "no free address left in %s/%d — remove VMs or set a larger BANGER_SUBNET",
		       gw, c->prefix);
}

/* Finds name's lease line: returns its start and sets *addr, or NULL. */
static const char *lease_find(const char *leases, const char *name, uint32_t *addr)
{
	for (const char *l = leases; l && *l;) {
		const char *nl = strchr(l, '\n'), *sp = strchr(l, ' ');
		size_t n = strlen(name);

		if (sp && (!nl || sp < nl) && !strncmp(sp + 1, name, n) &&
		    (sp[1 + n] == '\n' || sp[1 + n] == '\0')) {
			char ip[16];
			struct in_addr in;

			if ((size_t)(sp - l) < sizeof(ip)) {
				memcpy(ip, l, (size_t)(sp - l));
				ip[sp - l] = '\0';
				if (inet_pton(AF_INET, ip, &in) == 1) {
					*addr = ntohl(in.s_addr);
					return l;
				}
			}
		}
		l = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static int lease_lock(const char *file, struct err *e)
{
	char lock[LIMIT_PATH];
	char *slash;

	if (snprintf(lock, sizeof(lock), "%s.lock", file) >= (int)sizeof(lock))
		return err_set(e, EXIT_VERIFY, "%s: path too long", file);
	if ((slash = strrchr(lock, '/')) && slash != lock) {
		*slash = '\0';
		if (path_mkdirs(lock, 0755, e) < 0)
			return -1;
		*slash = '/';
	}
	return lock_acquire(lock, LOCK_EXCLUSIVE_MODE, true, NULL, e);
}

static int lease_read(const char *file, char **text, struct err *e)
{
	size_t len;

	if (file_read_all(file, LIMIT_LEASES, text, &len, e) == 0)
		return 0;
	if (e->code != EXIT_NOTFOUND)
		return -1;
	*text = calloc(1, 1);
	return *text ? 0 : err_set(e, EXIT_SYSTEM, "out of memory");
}

/* A lease file being rewritten: its lock held, its text read, the new
 * text built in b. lease_begin fails with nothing held; lease_end releases
 * all of it. */
struct lease_edit {
	int fd;
	char *text;
	struct buf b;
};

static int lease_begin(struct lease_edit *le, const char *file, struct err *e)
{
	le->text = NULL;
	if ((le->fd = lease_lock(file, e)) < 0)
		return -1;
	buf_init(&le->b, LIMIT_LEASES, file);
	if (lease_read(file, &le->text, e) < 0) {
		lock_release(le->fd);
		return -1;
	}
	return 0;
}

static void lease_end(struct lease_edit *le)
{
	buf_fini(&le->b);
	free(le->text);
	lock_release(le->fd);
}

/* A host lease holds an address for nobody when its owner (a VM directory)
 * is gone and no banger holds that VM's lock (one creating it holds it):
 * a VM removed by hand, a store deleted, or a network namespace whose inode
 * came back. */
static bool lease_stale(const char *line, size_t len)
{
	char owner[LIMIT_PATH], lock[LIMIT_PATH + 8];
	const char *sp = memchr(line, ' ', len);
	struct err e;
	size_t n;
	char *slash;
	int fd;

	if (!sp || sp[1] != '/')
		return false;
	n = len - (size_t)(sp + 1 - line);
	if (n && sp[n] == '\n')
		n--;
	if (n >= sizeof(owner))
		return false;
	memcpy(owner, sp + 1, n);
	owner[n] = '\0';
	if (access(owner, F_OK) == 0 || errno != ENOENT || !(slash = strrchr(owner, '/')) ||
	    slash == owner)
		return false;
	*slash = '\0';
	if (access(owner, F_OK) < 0)
		return errno == ENOENT;
	err_init(&e);
	snprintf(lock, sizeof(lock), "%s/.%s.lock", owner, slash + 1);
	if ((fd = lock_acquire(lock, LOCK_EXCLUSIVE_MODE, false, NULL, &e)) < 0)
		return false;
	lock_release(fd);
	return true;
}

/* host: the lease file is shared by every store on this host's bridge:
 * stale owners are dropped, and a lease outside c's subnet means the bridge
 * already serves another one. */
static int lease_get(const char *leases_file, const struct net_config *c, const char *name,
		     bool host, uint32_t *out, struct err *e)
{
	char line[LIMIT_NAME + 32];
	uint32_t mask = net_mask(c->prefix);
	struct lease_edit le;
	struct buf *b = &le.b;
	uint32_t a;
	int ret = -1;

	if (lease_begin(&le, leases_file, e) < 0)
		return -1;
	for (const char *l = le.text; *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) + 1 : strlen(l);
		const char *sp = memchr(l, ' ', n);
		char ip[16], gw[16];
		struct in_addr in;

		if (host && lease_stale(l, n)) {
			l += n;
			continue;
		}
		ip[0] = '\0';
		if (host && sp && (size_t)(sp - l) < sizeof(ip)) {
			memcpy(ip, l, (size_t)(sp - l));
			ip[sp - l] = '\0';
		}
		if (host && ip[0] && inet_pton(AF_INET, ip, &in) == 1 &&
		    (ntohl(in.s_addr) & mask) != (c->gateway & mask)) {
			net_ntoa(c->gateway, gw, sizeof(gw));
			err_set(e, EXIT_BUSY,
				"bridge %s already serves %s's subnet, not %s/%d — use that "
				"BANGER_SUBNET or another BANGER_BRIDGE",
				c->bridge, ip, gw, c->prefix);
			goto out;
		}
		if (buf_append(b, l, n, e) < 0)
			goto out;
		l += n;
	}
	if (b->len && b->data[b->len - 1] != '\n' && buf_append(b, "\n", 1, e) < 0)
		goto out;
	if (lease_find(b->data ? b->data : "", name, &a) && (a & mask) == (c->gateway & mask)) {
		*out = a;
		ret = 0;
		goto out;
	}
	if (net_lease_pick(b->data ? b->data : "", c, &a, e) < 0)
		goto out;
	net_ntoa(a, line, sizeof(line));
	if (buf_appendf(b, e, "%s %s\n", line, name) < 0 ||
	    file_write_atomic(leases_file, b->data, b->len, 0644, e) < 0)
		goto out;
	*out = a;
	ret = 0;
out:
	lease_end(&le);
	return ret;
}

int net_lease_get(const char *leases_file, const struct net_config *c, const char *name,
		  uint32_t *out, struct err *e)
{
	return lease_get(leases_file, c, name, false, out, e);
}

int net_host_leases(const char *bridge, char *out, size_t size, struct err *e)
{
	const char *run = getenv("BANGER_RUN_DIR");
	struct stat st;

	if (!run || *run != '/')
		run = NET_RUN_DIR;
	/* Bridges belong to a network namespace, and so do their addresses. */
	if (stat("/proc/self/ns/net", &st) < 0)
		return err_errno(e, EXIT_SYSTEM, "/proc/self/ns/net");
	if ((size_t)snprintf(out, size, "%s/net/%llu/%s.leases", run, (unsigned long long)st.st_ino,
			     bridge) >= size)
		return err_set(e, EXIT_USAGE, "%s: path too long — set a shorter BANGER_RUN_DIR",
			       run);
	return 0;
}

int net_host_lease_get(const struct net_config *c, const char *owner, uint32_t *out, struct err *e)
{
	char file[LIMIT_PATH];

	if (strchr(owner, '\n'))
		return err_set(e, EXIT_USAGE, "%s: a newline in the store's path", owner);
	if (net_host_leases(c->bridge, file, sizeof(file), e) < 0)
		return -1;
	return lease_get(file, c, owner, true, out, e);
}

int net_host_lease_put(const char *bridge, const char *owner, int *remaining, struct err *e)
{
	char file[LIMIT_PATH];

	if (net_host_leases(bridge, file, sizeof(file), e) < 0)
		return -1;
	return net_lease_put(file, owner, remaining, e);
}

int net_lease_put(const char *leases_file, const char *name, int *remaining, struct err *e)
{
	struct lease_edit le;
	int ret = -1, left = 0;

	if (lease_begin(&le, leases_file, e) < 0)
		return -1;
	for (const char *l = le.text; *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) + 1 : strlen(l);
		uint32_t a;

		if (lease_find(l, name, &a) != l) {
			if (buf_append(&le.b, l, n, e) < 0)
				goto out;
			left++;
		}
		l += n;
	}
	if (file_write_atomic(leases_file, le.b.data ? le.b.data : "", le.b.len, 0644, e) < 0)
		goto out;
	if (remaining)
		*remaining = left;
	ret = 0;
out:
	lease_end(&le);
	return ret;
}

/* ---- rtnetlink ---------------------------------------------------------- */

struct nlreq {
	struct nlmsghdr h;
	char body[1024];
};

static struct rtattr *nla_put(struct nlreq *r, int type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)&r->h + NLMSG_ALIGN(r->h.nlmsg_len));
	size_t need = RTA_SPACE(len);

	if (NLMSG_ALIGN(r->h.nlmsg_len) + need > sizeof(*r))
		return NULL;
	a->rta_type = (unsigned short)type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = (uint32_t)(NLMSG_ALIGN(r->h.nlmsg_len) + need);
	return a;
}

static void nla_end(struct nlreq *r, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)&r->h + r->h.nlmsg_len - (char *)nest);
}

/* Sends r and reads the ack; the kernel's errno comes back as -errno in
 * *kerr (0 on success). -1 only on socket failure. */
static int nl_talk(struct nlreq *r, int *kerr, struct err *e)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char ans[4096];
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	ssize_t n;

	if (fd < 0)
		return err_errno(e, EXIT_SYSTEM, "netlink socket");
	r->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	r->h.nlmsg_seq = 1;
	if (sendto(fd, r, r->h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err_errno(e, EXIT_SYSTEM, "netlink send");
		close(fd);
		return -1;
	}
	for (;;) {
		n = recv(fd, ans, sizeof(ans), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_errno(e, EXIT_SYSTEM, "netlink receive");
			close(fd);
			return -1;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)ans; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *er = NLMSG_DATA(h);

				*kerr = er->error;
				close(fd);
				return 0;
			}
		}
	}
}

static void nl_init(struct nlreq *r, int type, int flags, size_t hdr)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = (uint32_t)NLMSG_LENGTH(hdr);
	r->h.nlmsg_type = (unsigned short)type;
	r->h.nlmsg_flags = (unsigned short)flags;
}

static int kfail(struct err *e, int kerr, const char *what, const char *name)
{
	errno = -kerr;
	return err_errno(e, EXIT_SYSTEM, "%s %s%s", what, name,
			 kerr == -EPERM ? " (run as root or with CAP_NET_ADMIN)" : "");
}

/* Sets flags (IFF_UP) and optionally the master of a link. */
static int link_set(const char *name, int master, struct err *e)
{
	struct nlreq r;
	struct ifinfomsg *ifi;
	unsigned idx = if_nametoindex(name);
	int kerr;

	if (!idx)
		return err_errno(e, EXIT_NOTFOUND, "link %s", name);
	nl_init(&r, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi = NLMSG_DATA(&r.h);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)idx;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = IFF_UP;
	if (master > 0) {
		uint32_t m = (uint32_t)master;

		nla_put(&r, IFLA_MASTER, &m, sizeof(m));
	}
	if (nl_talk(&r, &kerr, e) < 0)
		return -1;
	return kerr ? kfail(e, kerr, "cannot set up", name) : 0;
}

int net_bridge_ensure(const struct net_config *c, bool *created, struct err *e)
{
	struct nlreq r;
	struct ifinfomsg *ifi;
	struct ifaddrmsg *ifa;
	struct rtattr *info;
	uint32_t a, bc;
	int kerr;
	unsigned idx;

	nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
	ifi = NLMSG_DATA(&r.h);
	ifi->ifi_family = AF_UNSPEC;
	nla_put(&r, IFLA_IFNAME, c->bridge, strlen(c->bridge) + 1);
	info = nla_put(&r, IFLA_LINKINFO, NULL, 0);
	nla_put(&r, IFLA_INFO_KIND, "bridge", 6);
	nla_end(&r, info);
	if (nl_talk(&r, &kerr, e) < 0)
		return -1;
	if (kerr && kerr != -EEXIST)
		return kfail(e, kerr, "cannot create bridge", c->bridge);
	if (created)
		*created = !kerr;
	if (!(idx = if_nametoindex(c->bridge)))
		return err_errno(e, EXIT_SYSTEM, "bridge %s", c->bridge);

	nl_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa));
	ifa = NLMSG_DATA(&r.h);
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)c->prefix;
	ifa->ifa_index = idx;
	a = htonl(c->gateway);
	bc = htonl(c->gateway | ~net_mask(c->prefix));
	nla_put(&r, IFA_LOCAL, &a, 4);
	nla_put(&r, IFA_ADDRESS, &a, 4);
	nla_put(&r, IFA_BROADCAST, &bc, 4);
	if (nl_talk(&r, &kerr, e) < 0)
		return -1;
	if (kerr && kerr != -EEXIST)
		return kfail(e, kerr, "cannot give an address to", c->bridge);
	return link_set(c->bridge, 0, e);
}

int net_tap_create(const char *tap, const char *bridge, uid_t uid, struct err *e)
{
	struct ifreq ifr;
	unsigned master;
	int fd;

	if (strlen(tap) > NET_IFNAME_MAX)
		return err_set(e, EXIT_USAGE, "%s: interface name too long", tap);
	if (!(master = if_nametoindex(bridge)))
		return err_errno(e, EXIT_NOTFOUND, "bridge %s", bridge);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, EXIT_SYSTEM,
				 "/dev/net/tun: cannot open (load the tun module: modprobe tun)");
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, tap, strlen(tap));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err_errno(e, EXIT_SYSTEM, "tap %s: cannot create%s", tap,
			  errno == EPERM ? " (run as root or with CAP_NET_ADMIN)" : "");
		close(fd);
		return -1;
	}
	if ((uid != (uid_t)-1 && ioctl(fd, TUNSETOWNER, (unsigned long)uid) < 0) ||
	    ioctl(fd, TUNSETPERSIST, 1UL) < 0) {
		err_errno(e, EXIT_SYSTEM, "tap %s: cannot make persistent", tap);
		close(fd);
		return -1;
	}
	close(fd);
	return link_set(tap, (int)master, e);
}

int net_link_delete(const char *name, struct err *e)
{
	struct nlreq r;
	struct ifinfomsg *ifi;
	unsigned idx = if_nametoindex(name);
	int kerr;

	if (!idx)
		return 0;
	nl_init(&r, RTM_DELLINK, 0, sizeof(*ifi));
	ifi = NLMSG_DATA(&r.h);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)idx;
	if (nl_talk(&r, &kerr, e) < 0)
		return -1;
	if (kerr && kerr != -ENODEV)
		return kfail(e, kerr, "cannot delete link", name);
	return 0;
}

/* ---- NAT ---------------------------------------------------------------- */

/* Runs argv (found on PATH) with input on stdin; stderr is kept for the
 * message, on one line. Returns the exit status, or -1 with e set when it
 * cannot run. */
static int run(const char *const *argv, const char *input, char *errout, size_t errsize,
	       struct err *e)
{
	struct proc_io io = { .input = input,
			      .input_len = input ? strlen(input) : 0,
			      .err = errout,
			      .err_size = errsize,
			      .search_path = true };
	int rc = proc_run(argv, &io, e);

	for (char *s = errout; rc >= 0 && *s; s++)
		if (*s == '\n')
			*s = ' ';
	return rc;
}

static bool have_nft(void)
{
	const char *argv[] = { "nft", "--version", NULL };
	char ignored[64];
	struct err e = { 0 };

	return run(argv, NULL, ignored, sizeof(ignored), &e) == 0;
}

static int nft(const char *script, struct err *e)
{
	const char *argv[] = { "nft", "-f", "-", NULL };
	char msg[256];
	int rc = run(argv, script, msg, sizeof(msg), e);

	if (rc < 0)
		return -1;
	if (rc)
		return err_set(e, EXIT_SYSTEM,
			       "nft: %s — check nftables is usable ('banger doctor')", msg);
	return 0;
}

static int iptables(const char *op, const char *chain, const char *const *rule, bool quiet,
		    struct err *e)
{
	const char *argv[24] = { "iptables", "-w" };
	char msg[256];
	int n = 2, rc;

	if (!strcmp(chain, "POSTROUTING")) {
		argv[n++] = "-t";
		argv[n++] = "nat";
	}
	argv[n++] = op;
	argv[n++] = chain;
	for (; *rule && n < 23; rule++)
		argv[n++] = *rule;
	argv[n] = NULL;
	rc = run(argv, NULL, msg, sizeof(msg), e);
	if (rc < 0)
		return -1;
	if (rc && !quiet)
		return err_set(e, EXIT_SYSTEM, "iptables %s %s: %s — install nftables or iptables",
			       op, chain, msg);
	return 0;
}

/* The iptables fallback's three NAT rules for guest address g: added
 * (add) or deleted, where a missing rule is already the goal state. */
static int iptables_nat(const struct net_config *c, const char *g, bool add, struct err *e)
{
	const char *post[] = { "-s", g, "!", "-o", c->bridge, "-j", "MASQUERADE", NULL };
	const char *fwd_out[] = { "-s", g, "-j", "ACCEPT", NULL };
	const char *fwd_in[] = { "-d",	      g,	   "-m",
				 "conntrack", "--ctstate", "ESTABLISHED,RELATED",
				 "-j",	      "ACCEPT",	   NULL };

	if (!add) {
		iptables("-D", "POSTROUTING", post, true, e);
		iptables("-D", "FORWARD", fwd_out, true, e);
		iptables("-D", "FORWARD", fwd_in, true, e);
		return 0;
	}
	if (iptables("-A", "POSTROUTING", post, false, e) < 0 ||
	    iptables("-I", "FORWARD", fwd_out, false, e) < 0 ||
	    iptables("-I", "FORWARD", fwd_in, false, e) < 0)
		return -1;
	return 0;
}

int net_nat_add(const struct net_config *c, uint32_t guest, const char *tag, struct err *e)
{
	char g[16], script[1024];
	int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);

	net_ntoa(guest, g, sizeof(g));
	if (fd < 0)
		return err_errno(e, EXIT_SYSTEM, "/proc/sys/net/ipv4/ip_forward: cannot enable");
	if (file_write_all(fd, "1\n", 2, "/proc/sys/net/ipv4/ip_forward", e) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	if (have_nft()) {
		/* Declare, delete, redefine: adding twice leaves one table. */
		snprintf(script, sizeof(script),
			 "table ip banger_%s\n"
			 "delete table ip banger_%s\n"
			 "table ip banger_%s {\n"
			 "\tchain postrouting {\n"
			 "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
			 "\t\tip saddr %s oifname != \"%s\" masquerade\n"
			 "\t}\n"
			 "\tchain forward {\n"
			 "\t\ttype filter hook forward priority filter; policy accept;\n"
			 "\t\tip saddr %s accept\n"
			 "\t\tip daddr %s ct state established,related accept\n"
			 "\t}\n"
			 "}\n",
			 tag, tag, tag, g, c->bridge, g, g);
		return nft(script, e);
	}
	iptables_nat(c, g, false, e); /* adding twice leaves one set */
	return iptables_nat(c, g, true, e);
}

int net_nat_del(const struct net_config *c, uint32_t guest, const char *tag, struct err *e)
{
	char g[16], script[256];

	net_ntoa(guest, g, sizeof(g));
	if (have_nft()) {
		snprintf(script, sizeof(script), "table ip banger_%s\ndelete table ip banger_%s\n",
			 tag, tag);
		return nft(script, e);
	}
	return iptables_nat(c, g, false, e);
}
