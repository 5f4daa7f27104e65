/* test_identity.c — the AP_IDENTITY request's JSON (lib/agent/identity.c). */
#include "harness.h"

#include "agent/identity.h"
#include "err.h"
#include "exitcode.h"

static void round_trip(void)
{
	struct ap_identity a = { .time_sec = 1796219758, .time_nsec = 123456789, .prefix = 24 }, b;
	struct err e;
	char *s;

	err_init(&e);
	for (int i = 0; i < IDENTITY_ENTROPY; i++)
		a.entropy[i] = (unsigned char)(i * 37);
	a.nentropy = IDENTITY_ENTROPY;
	snprintf(a.machine_id, sizeof(a.machine_id), "%s", "0123456789abcdef0123456789abcdef");
	snprintf(a.hostname, sizeof(a.hostname), "%s", "vm-2");
	snprintf(a.ip, sizeof(a.ip), "%s", "172.30.0.7");
	snprintf(a.gateway, sizeof(a.gateway), "%s", "172.30.0.1");
	s = identity_to_json(&a, &e);
	CHECK(s != NULL);
	CHECK(identity_from_json(s, strlen(s), &b, &e) == 0);
	CHECK(b.time_sec == a.time_sec && b.time_nsec == a.time_nsec);
	CHECK(b.nentropy == IDENTITY_ENTROPY && !memcmp(a.entropy, b.entropy, IDENTITY_ENTROPY));
	CHECK_STR(b.machine_id, a.machine_id);
	CHECK_STR(b.hostname, "vm-2");
	CHECK_STR(b.ip, "172.30.0.7");
	CHECK_STR(b.gateway, "172.30.0.1");
	CHECK(b.prefix == 24);
	CHECK_STR(b.dev, "");
	free(s);
}

static void only_the_clock(void)
{
	struct ap_identity b;
	struct err e;
	const char *t = "{\"time_sec\":5}";

	err_init(&e);
	CHECK(identity_from_json(t, strlen(t), &b, &e) == 0);
	CHECK(b.time_sec == 5 && !b.nentropy && !b.hostname[0] && !b.ip[0] && !b.machine_id[0]);
}

static void refused(void)
{
	static const char *const bad[] = {
		"[]",
		"{}", /* no clock */
		"{\"time_sec\":-1}",
		"{\"time_sec\":1.5}",
		"{\"time_sec\":1,\"time_nsec\":1000000000}",
		"{\"time_sec\":1,\"entropy\":\"!!!\"}",
		"{\"time_sec\":1,\"machine_id\":\"0123456789ABCDEF0123456789ABCDEF\"}",
		"{\"time_sec\":1,\"machine_id\":\"0123\"}",
		"{\"time_sec\":1,\"hostname\":\"-bad\"}",
		"{\"time_sec\":1,\"hostname\":7}",
		"{\"time_sec\":1,\"ip\":\"10.0.0\"}",
		"{\"time_sec\":1,\"ip\":\"10.0.0.2\",\"prefix\":33}",
		"{\"time_sec\":1,\"gateway\":\"::1\"}",
		"{\"time_sec\":1,\"dev\":\"eth0; rm\"}",
		"{\"time_sec\":1,\"dev\":\"averyveryverylongname\"}",
	};
	struct ap_identity b;
	struct err e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_init(&e);
		CHECK(identity_from_json(bad[i], strlen(bad[i]), &b, &e) < 0);
		CHECK(e.code == EXIT_VERIFY);
		CHECK(!strncmp(e.msg, "identity: ", 10));
	}
}

static void entropy_ceiling(void)
{
	/* LIMIT_AGENT_ENTROPY + 3 bytes of base64 "AAAA" groups: one group too many. */
	char s[64 + (LIMIT_AGENT_ENTROPY + 6) / 3 * 4];
	size_t n = 0;
	struct ap_identity b;
	struct err e;

	n += (size_t)snprintf(s, sizeof(s), "{\"time_sec\":1,\"entropy\":\"");
	for (int i = 0; i < (LIMIT_AGENT_ENTROPY + 3) / 3; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "AAAA");
	snprintf(s + n, sizeof(s) - n, "\"}");
	err_init(&e);
	CHECK(identity_from_json(s, strlen(s), &b, &e) < 0 && e.code == EXIT_VERIFY);
	/* Exactly the ceiling is fine. */
	n = (size_t)snprintf(s, sizeof(s), "{\"time_sec\":1,\"entropy\":\"");
	for (int i = 0; i < LIMIT_AGENT_ENTROPY / 3; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "AAAA");
	snprintf(s + n, sizeof(s) - n, "AAA=\"}");
	err_init(&e);
	CHECK(identity_from_json(s, strlen(s), &b, &e) == 0 && b.nentropy == LIMIT_AGENT_ENTROPY);
}

int main(void)
{
	HARNESS_BEGIN("identity");
	RUN(round_trip);
	RUN(only_the_clock);
	RUN(refused);
	RUN(entropy_ceiling);
	HARNESS_END();
}
