/* Unit tests: lib/guest/cmdline.c and lib/base64.c — kernel words, banger.* parameters. */
#include "harness.h"

#include <stddef.h>

#include "base64.h"
#include "guest/cmdline.h"
#include "err.h"
#include "exitcode.h"

static struct cmdline cl;
static struct guest_config g;

static int parse(const char *s)
{
	struct err e;

	err_init(&e);
	return cmdline_parse(&cl, s, strlen(s), &e);
}

static void splits_like_the_kernel(void)
{
	CHECK(parse("  console=ttyS0  root=/dev/vda rw\n") == 0);
	CHECK(cl.nword == 3);
	CHECK_STR(cl.word[0], "console=ttyS0");
	CHECK_STR(cmdline_get(&cl, "root"), "/dev/vda");
	CHECK_STR(cmdline_get(&cl, "rw"), "");
	CHECK(cmdline_get(&cl, "ro") == NULL);
	CHECK(cmdline_get(&cl, "roo") == NULL);
	CHECK(parse("a=1 dyndbg=\"file x.c +p\" a=2 -- init args") == 0);
	CHECK(cl.nword == 3);
	CHECK_STR(cmdline_get(&cl, "dyndbg"), "file x.c +p");
	CHECK_STR(cmdline_get(&cl, "a"), "2"); /* the last one wins */
	CHECK(cmdline_get(&cl, "init") == NULL);
	CHECK(parse("") == 0 && cl.nword == 0);
}

static void refuses_bad_lines(void)
{
	char big[LIMIT_CMDLINE + 2];
	struct err e;

	err_init(&e);
	CHECK(cmdline_parse(&cl, "a=\"open", 7, &e) == -1 && e.code == EXIT_VERIFY);
	memset(big, 'x', sizeof(big));
	CHECK(cmdline_parse(&cl, big, sizeof(big), &e) == -1);
	memset(big, ' ', sizeof(big));
	for (size_t i = 0; i < 2 * (LIMIT_CMDLINE_WORDS + 1); i += 2)
		big[i] = 'w';
	CHECK(cmdline_parse(&cl, big, 2 * (LIMIT_CMDLINE_WORDS + 1), &e) == -1);
	CHECK(strstr(e.msg, "words") != NULL);
}

/* A line of exactly LIMIT_CMDLINE bytes once wrote one byte past buf (the
 * last word's terminator, then a final one after it). */
static void full_length_line_stays_in_buf(void)
{
	static struct {
		struct cmdline c;
		unsigned char after[16];
	} w;
	char text[LIMIT_CMDLINE];
	size_t end = offsetof(struct cmdline, buf) + sizeof(w.c.buf);
	struct err e;

	for (int words = 1; words <= 3; words++) {
		memset(text, 'x', sizeof(text));
		for (int k = 1; k < words; k++)
			text[k * 100] = ' ';
		memset(&w, 0xa5, sizeof(w));
		err_init(&e);
		CHECK(cmdline_parse(&w.c, text, sizeof(text), &e) == 0);
		CHECK(w.c.nword == words);
		for (size_t i = end; i < offsetof(struct cmdline, word); i++)
			CHECK(((unsigned char *)&w.c)[i] == 0xa5);
	}
}

static void module_params_like_modprobe(void)
{
	char out[128];
	struct err e;

	err_init(&e);
	CHECK(parse("virtio_mmio.device=4K@0xd0000000:5 virtio-mmio.device=4K@0xd0001000:6 "
		    "virtio_mmiox.y=1 vsock.x=\"a b\" quiet") == 0);
	CHECK(cmdline_module_params(&cl, "virtio_mmio", out, sizeof(out), &e) == 0);
	CHECK_STR(out, "device=4K@0xd0000000:5 device=4K@0xd0001000:6");
	CHECK(cmdline_module_params(&cl, "vsock", out, sizeof(out), &e) == 0);
	CHECK_STR(out, "x=\"a b\"");
	CHECK(cmdline_module_params(&cl, "virtio_blk", out, sizeof(out), &e) == 0);
	CHECK_STR(out, "");
	CHECK(cmdline_module_params(&cl, "virtio_mmio", out, 20, &e) == -1);
}

static void base64_both_alphabets(void)
{
	unsigned char out[64];
	size_t n;
	struct err e;

	err_init(&e);
	CHECK(base64_decode("aGk+Pz8/", 8, out, sizeof(out), &n, &e) == 0);
	CHECK(n == 6 && !memcmp(out, "hi>???", 6));
	CHECK(base64_decode("aGk-Pz8_", 8, out, sizeof(out), &n, &e) == 0);
	CHECK(n == 6 && !memcmp(out, "hi>???", 6));
	CHECK(base64_decode("aGVsbG8=", 8, out, sizeof(out), &n, &e) == 0 && n == 5);
	CHECK(base64_decode("aGVsbG8", 7, out, sizeof(out), &n, &e) == 0 && n == 5);
	CHECK(!memcmp(out, "hello", 5));
	CHECK(base64_decode("", 0, out, sizeof(out), &n, &e) == 0 && n == 0);
	CHECK(base64_decode("aGV*bG8", 7, out, sizeof(out), &n, &e) == -1);
	CHECK(base64_decode("aGVsb", 5, out, sizeof(out), &n, &e) == -1);
	CHECK(base64_decode("aGVsbG8=", 8, out, 4, &n, &e) == -1);
	CHECK(base64_decode("aG=Vs", 5, out, sizeof(out), &n, &e) == -1);
}

static void guest_config_defaults(void)
{
	struct err e;

	err_init(&e);
	CHECK(parse("console=ttyS0") == 0);
	CHECK(guest_config_parse(&g, &cl, &e) == 0);
	CHECK(g.hostname == NULL && g.ndns == 0 && g.ssh_keys_len == 0 && g.nmask == 0);
	CHECK(g.install && g.resize && g.init == INIT_AUTO && g.halt == HALT_AUTO);
	CHECK(g.shutdown_timeout_s == 5 && g.root_timeout_s == 30 && g.install_timeout_s == 300);
	CHECK_STR(g.rootfstype, "ext4");
	CHECK(!g.root_rw && g.root == NULL && g.init_path == NULL);
}

static void guest_config_values(void)
{
	struct err e;

	err_init(&e);
	/* "ssh-ed25519 AAAA k\n" in URL-safe base64 without padding */
	CHECK(parse("root=/dev/vda ro rw rootfstype=xfs init=/sbin/init banger.hostname=vm-1.lan "
		    "banger.dns=1.1.1.1,2606:4700::1111 banger.ssh_key=c3NoLWVkMjU1MTkgQUFBQSBrCg "
		    "banger.mask=dev-vdc.device banger.init=minimal banger.install=0 "
		    "banger.resize=off banger.halt=reboot banger.shutdown_timeout=2 "
		    "banger.root_timeout=7 banger.install_timeout=60") == 0);
	CHECK(guest_config_parse(&g, &cl, &e) == 0);
	CHECK_STR(g.hostname, "vm-1.lan");
	CHECK(g.ndns == 2);
	CHECK_STR(g.dns[1], "2606:4700::1111");
	CHECK_STR(g.ssh_keys, "ssh-ed25519 AAAA k\n");
	CHECK(g.nmask == 1);
	CHECK_STR(g.mask[0], "dev-vdc.device");
	CHECK(g.init == INIT_MINIMAL && !g.install && !g.resize && g.halt == HALT_REBOOT);
	CHECK(g.shutdown_timeout_s == 2 && g.root_timeout_s == 7 && g.install_timeout_s == 60);
	CHECK(g.root_rw && g.root_ro_explicit);
	CHECK_STR(g.root, "/dev/vda");
	CHECK_STR(g.rootfstype, "xfs");
	CHECK_STR(g.init_path, "/sbin/init");
}

static void guest_config_bad_values_skipped(void)
{
	struct err e;

	err_init(&e);
	CHECK(parse("banger.hostname=bad_name banger.dns=1.2.3.4,example.com banger.halt=never "
		    "banger.typo=1 banger.resize=maybe banger.mask=../etc/x banger.ssh_key=@@ "
		    "banger.root_timeout=-1 banger.init=sysv banger.hostname=good") == 0);
	CHECK(guest_config_parse(&g, &cl, &e) == -1);
	CHECK(e.code == EXIT_VERIFY);
	CHECK(strstr(e.msg, "banger.hostname: 'bad_name'") != NULL);
	CHECK_STR(g.hostname, "good"); /* later valid values still count */
	CHECK(g.ndns == 0 && g.nmask == 0 && g.ssh_keys_len == 0);
	CHECK(g.halt == HALT_AUTO && g.resize && g.root_timeout_s == 30);
	CHECK(parse("banger.typo=1") == 0);
	CHECK(guest_config_parse(&g, &cl, &e) == -1);
	CHECK(strstr(e.msg, "banger.typo: unknown parameter") != NULL);
	CHECK(parse("banger.dns=1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4") == 0);
	CHECK(guest_config_parse(&g, &cl, &e) == -1 && g.ndns == 0);
}

static void tmpfs_mounts(void)
{
	struct err e;

	err_init(&e);
	CHECK(parse("banger.tmpfs=/scratch:16777216:1777,/run/x::700,/y") == 0);
	CHECK(guest_config_parse(&g, &cl, &e) == 0 && g.ntmpfs == 3);
	CHECK_STR(g.tmpfs_dir[0], "/scratch");
	CHECK(g.tmpfs_bytes[0] == 16777216 && g.tmpfs_mode[0] == 01777);
	CHECK_STR(g.tmpfs_dir[1], "/run/x");
	CHECK(g.tmpfs_bytes[1] == 0 && g.tmpfs_mode[1] == 0700);
	CHECK(g.tmpfs_mode[2] == 01777); /* docker's default */
	const char *bad[] = {
		"banger.tmpfs=relative:1:1777", "banger.tmpfs=/a/../etc:1:1777",
		"banger.tmpfs=/a:12x:1777",	"banger.tmpfs=/a:1:999",
		"banger.tmpfs=/:1:1777",	"banger.tmpfs=/a,/b,/c,/d,/e,/f,/g,/h,/i"
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_init(&e);
		CHECK(parse(bad[i]) == 0);
		CHECK(guest_config_parse(&g, &cl, &e) == -1 && e.code == EXIT_VERIFY);
		CHECK(g.ntmpfs == 0); /* all or nothing: no half of a mount list */
	}
}

static void ip_static_form(void)
{
	struct err e;

	err_init(&e);
	CHECK(parse("ip=10.0.2.15::10.0.2.2:255.255.255.0::eth1:off:9.9.9.9") == 0);
	CHECK(guest_config_parse(&g, &cl, &e) == 0);
	CHECK_STR(g.ip_addr, "10.0.2.15");
	CHECK_STR(g.ip_gw, "10.0.2.2");
	CHECK_STR(g.ip_dev, "eth1");
	CHECK(g.ip_prefix == 24 && g.ndns == 1);
	CHECK_STR(g.dns[0], "9.9.9.9");
	CHECK(parse("banger.dns=1.1.1.1 ip=172.16.0.2:::30") == 0);
	CHECK(guest_config_parse(&g, &cl, &e) == 0);
	CHECK(g.ip_gw == NULL && g.ip_prefix == 30 && g.ndns == 1);
	CHECK_STR(g.ip_dev, "eth0");
	CHECK_STR(g.dns[0], "1.1.1.1");
	CHECK(parse("ip=off") == 0);
	CHECK(guest_config_parse(&g, &cl, &e) == 0 && g.ip_addr == NULL);
	CHECK(parse("ip=dhcp") == 0);
	CHECK(guest_config_parse(&g, &cl, &e) == -1 && g.ip_addr == NULL);
	CHECK(strstr(e.msg, "only the static form") != NULL);
	CHECK(parse("ip=10.0.0.2::10.0.0.1:255.0.255.0::eth0:off") == 0);
	CHECK(guest_config_parse(&g, &cl, &e) == -1 && g.ip_addr == NULL);
	CHECK(parse("ip=10.0.0.2::10.0.0.1:24::eth0:dhcp") == 0);
	CHECK(guest_config_parse(&g, &cl, &e) == -1 && g.ip_addr == NULL);
}

static void hostnames(void)
{
	CHECK(hostname_is_valid("a"));
	CHECK(hostname_is_valid("web-1.example.org"));
	CHECK(!hostname_is_valid(""));
	CHECK(!hostname_is_valid("-a"));
	CHECK(!hostname_is_valid("a-"));
	CHECK(!hostname_is_valid("a..b"));
	CHECK(!hostname_is_valid("a.b."));
	CHECK(!hostname_is_valid("a b"));
	CHECK(!hostname_is_valid("a_b"));
	CHECK(!hostname_is_valid(
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

int main(void)
{
	HARNESS_BEGIN("test_cmdline");
	RUN(splits_like_the_kernel);
	RUN(refuses_bad_lines);
	RUN(full_length_line_stays_in_buf);
	RUN(module_params_like_modprobe);
	RUN(base64_both_alphabets);
	RUN(guest_config_defaults);
	RUN(guest_config_values);
	RUN(guest_config_bad_values_skipped);
	RUN(tmpfs_mounts);
	RUN(ip_static_form);
	RUN(hostnames);
	HARNESS_END();
}
