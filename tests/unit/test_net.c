/* Unit tests: lib/vm/net.c pure parts — subnet parsing, the ip= builder, address
 * leases (file-backed, locked, never handed out twice), names. No links are
 * touched here: that is tests/net.test, inside its own network namespace. */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "vm/net.h"
#include "path.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void cidr_parsing(void)
{
	uint32_t a;
	int p;
	struct err e;

	CHECK(net_parse_cidr("172.30.0.1/24", &a, &p, &e) == 0);
	CHECK(a == 0xac1e0001 && p == 24);
	CHECK(net_parse_cidr("10.0.0.1", &a, &p, &e) == -1 && e.code == EXIT_USAGE);
	CHECK(net_parse_cidr("10.0.0.1/31", &a, &p, &e) == -1);
	CHECK(net_parse_cidr("10.0.0.1/0", &a, &p, &e) == -1);
	CHECK(net_parse_cidr("10.0.0.256/24", &a, &p, &e) == -1);
	CHECK(net_parse_cidr("10.0.0.1/24x", &a, &p, &e) == -1);
	CHECK(net_parse_cidr("/24", &a, &p, &e) == -1);
	CHECK(net_mask(24) == 0xffffff00u && net_mask(30) == 0xfffffffcu);
}

static void config_from_env(void)
{
	struct net_config c;
	struct err e;

	unsetenv("BANGER_SUBNET");
	unsetenv("BANGER_BRIDGE");
	CHECK(net_config_init(&c, &e) == 0);
	CHECK_STR(c.bridge, "banger0");
	CHECK(c.gateway == 0xac1e0001 && c.prefix == 24);
	setenv("BANGER_SUBNET", "10.9.0.1/16", 1);
	setenv("BANGER_BRIDGE", "br-test", 1);
	CHECK(net_config_init(&c, &e) == 0);
	CHECK_STR(c.bridge, "br-test");
	CHECK(c.gateway == 0x0a090001 && c.prefix == 16);
	setenv("BANGER_SUBNET", "10.9.0.0/16", 1); /* the network, not an address */
	CHECK(net_config_init(&c, &e) == -1 && e.code == EXIT_USAGE);
	setenv("BANGER_SUBNET", "10.9.0.1/16", 1);
	setenv("BANGER_BRIDGE", "a-name-far-too-long", 1);
	CHECK(net_config_init(&c, &e) == -1 && e.code == EXIT_USAGE);
	unsetenv("BANGER_SUBNET");
	unsetenv("BANGER_BRIDGE");
}

static void ip_arg_builder(void)
{
	char out[128];
	struct err e;

	CHECK(net_ip_arg(out, sizeof(out), 0xac1e0002, 0xac1e0001, 24, "web1", 0, &e) == 0);
	CHECK_STR(out, "ip=172.30.0.2::172.30.0.1:255.255.255.0:web1:eth0:off");
	CHECK(net_ip_arg(out, sizeof(out), 0x0a000105, 0x0a000001, 16, "a.b", 0x01010101, &e) == 0);
	CHECK_STR(out, "ip=10.0.1.5::10.0.0.1:255.255.0.0:a.b:eth0:off:1.1.1.1");
	/* ':' would shift every later field of ip=; a space would end it. */
	CHECK(net_ip_arg(out, sizeof(out), 1, 2, 24, "a:b", 0, &e) == -1 && e.code == EXIT_USAGE);
	CHECK(net_ip_arg(out, sizeof(out), 1, 2, 24, "a b", 0, &e) == -1);
	CHECK(net_ip_arg(out, 20, 0xac1e0002, 0xac1e0001, 24, "web1", 0, &e) == -1 &&
	      e.code == EXIT_VERIFY);
}

static void names(void)
{
	struct net_config c = { "banger0", 0xac1e0001, 24 };
	char s[32];

	net_tap_name(&c, 0xac1e00fe, s, sizeof(s));
	CHECK_STR(s, "bgtap254");
	net_mac(0xac1e0002, s, sizeof(s));
	CHECK_STR(s, "06:00:ac:1e:00:02");
}

static void lease_pick(void)
{
	struct net_config c = { "banger0", 0xac1e0001, 24 };
	struct net_config small = { "banger0", 0x0a000001, 30 }; /* .1 gw, .2 the only one */
	uint32_t a;
	struct err e;

	CHECK(net_lease_pick("", &c, &a, &e) == 0 && a == 0xac1e0002);
	CHECK(net_lease_pick("172.30.0.2 a\n172.30.0.3 b\n", &c, &a, &e) == 0 && a == 0xac1e0004);
	CHECK(net_lease_pick("172.30.0.3 b\n", &c, &a, &e) == 0 && a == 0xac1e0002);
	/* "172.30.0.2" must not match "172.30.0.20". */
	CHECK(net_lease_pick("172.30.0.20 x\n", &c, &a, &e) == 0 && a == 0xac1e0002);
	CHECK(net_lease_pick("", &small, &a, &e) == 0 && a == 0x0a000002);
	CHECK(net_lease_pick("10.0.0.2 x\n", &small, &a, &e) == -1 && e.code == EXIT_BUSY);
}

static void leases_survive_and_never_repeat(void)
{
	const char *t = harness_tmpdir();
	struct net_config c = { "banger0", 0xac1e0001, 24 };
	char f[512], *text;
	size_t len;
	uint32_t a, b, again;
	int left;
	struct err e;

	path_join(f, sizeof(f), t, "net/leases", &e);
	CHECK(net_lease_get(f, &c, "a", &a, &e) == 0 && a == 0xac1e0002);
	CHECK(net_lease_get(f, &c, "b", &b, &e) == 0 && b == 0xac1e0003);
	/* Asking again (say after a restart) gives the same address back. */
	CHECK(net_lease_get(f, &c, "a", &again, &e) == 0 && again == a);
	CHECK(file_read_all(f, 4096, &text, &len, &e) == 0);
	CHECK_STR(text, "172.30.0.2 a\n172.30.0.3 b\n");
	free(text);
	CHECK(net_lease_put(f, "a", &left, &e) == 0 && left == 1);
	CHECK(net_lease_put(f, "nobody", &left, &e) == 0 && left == 1);
	CHECK(net_lease_get(f, &c, "c", &a, &e) == 0 && a == 0xac1e0002);
	CHECK(net_lease_put(f, "b", &left, &e) == 0 && left == 1);
	CHECK(net_lease_put(f, "c", &left, &e) == 0 && left == 0);
	path_remove_tree(t, &e);
}

/* 16 processes lease at once: 16 different addresses. */
static void concurrent_leases_are_distinct(void)
{
	const char *t = harness_tmpdir();
	struct net_config c = { "banger0", 0xac1e0001, 24 };
	char f[512], *text;
	size_t len;
	struct err e;
	int n = 0;

	path_join(f, sizeof(f), t, "leases", &e);
	for (int i = 0; i < 16; i++) {
		if (fork() == 0) {
			char name[16];
			uint32_t a;
			struct err ce;

			snprintf(name, sizeof(name), "vm%d", i);
			_exit(net_lease_get(f, &c, name, &a, &ce) == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < 16; i++) {
		int st;

		wait(&st);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	CHECK(file_read_all(f, 4096, &text, &len, &e) == 0);
	for (uint32_t h = 2; h <= 17; h++) {
		char ip[20];
		const char *p;

		snprintf(ip, sizeof(ip), "172.30.0.%u ", h);
		p = strstr(text, ip);
		CHECK(p && (p == text || p[-1] == '\n') && !strstr(p + 1, ip));
		n += p != NULL;
	}
	CHECK(n == 16);
	free(text);
	path_remove_tree(t, &e);
}

int main(void)
{
	HARNESS_BEGIN("net");
	RUN(cidr_parsing);
	RUN(config_from_env);
	RUN(ip_arg_builder);
	RUN(names);
	RUN(lease_pick);
	RUN(leases_survive_and_never_repeat);
	RUN(concurrent_leases_are_distinct);
	HARNESS_END();
}
