/* Unit tests: lib/agent/agentproto.c — frames of every type, any split, malformed,
 * oversized and truncated input, hunting (resync) on a dirty stream. */
#include "harness.h"

#include "agent/agentproto.h"
#include "buf.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"

struct want {
	unsigned type;
	uint32_t channel;
	const char *payload;
	size_t len;
};

/* One frame of every type, with payloads of the right shape. */
static const struct want all[] = {
	{ AP_HELLO, 0xdeadbeef, "{\"version\":1}", 13 },
	{ AP_READY, 0xdeadbeef, "{\"version\":1,\"window\":262144}", 29 },
	{ AP_EXEC, 1, "{\"argv\":[\"true\"]}", 17 },
	{ AP_STDIN, 1, "abc\0def", 7 },
	{ AP_STDIN, 1, "", 0 },
	{ AP_STDOUT, 1, "out\n", 4 },
	{ AP_STDERR, 1, "err\n", 4 },
	{ AP_RESIZE, 1, "{\"rows\":1,\"cols\":2}", 19 },
	{ AP_SIGNAL, 1, "{\"signal\":15}", 13 },
	{ AP_EXIT, 1, "{\"code\":3}", 10 },
	{ AP_PUT, 2, "{\"path\":\"/x\"}", 13 },
	{ AP_GET, 3, "{\"path\":\"/x\"}", 13 },
	{ AP_FILE, 3, "{\"size\":1}", 10 },
	{ AP_DATA, 3, "\xff", 1 },
	{ AP_DATA, 3, "", 0 },
	{ AP_OK, 2, "{}", 2 },
	{ AP_ERROR, 4, "{\"code\":7,\"message\":\"x\"}", 25 },
	{ AP_ACK, 1, "\0\0\1\0", 4 },
	{ AP_CLOSE, 5, "", 0 },
	{ AP_SHUTDOWN, 0, "{\"action\":\"reboot\"}", 19 },
};
#define NALL (sizeof(all) / sizeof(all[0]))

static void encode_all(struct buf *b)
{
	struct err e;

	buf_init(b, 1 << 20, "test stream");
	for (size_t i = 0; i < NALL; i++)
		CHECK(ap_encode(b, all[i].type, all[i].channel, all[i].payload, all[i].len, &e) ==
		      0);
}

/* Feeds p in pieces of at most `step` bytes (first piece `first` bytes);
 * checks every frame comes out in order. Returns the number decoded. */
static size_t decode_pieces(const unsigned char *p, size_t n, size_t first, size_t step)
{
	struct ap_decoder d;
	size_t off = 0, got_n = 0, piece = first ? first : step;
	struct err e;

	ap_decoder_init(&d);
	while (off < n) {
		size_t len = piece < n - off ? piece : n - off;
		size_t used_total = 0;

		piece = step;
		while (used_total < len) {
			struct ap_frame f;
			bool got;
			long used =
				ap_decode(&d, p + off + used_total, len - used_total, &f, &got, &e);

			CHECK(used >= 0);
			if (used < 0) {
				ap_decoder_fini(&d);
				return got_n;
			}
			used_total += used;
			if (!got)
				continue;
			CHECK(got_n < NALL);
			if (got_n >= NALL)
				break;
			CHECK(f.type == all[got_n].type);
			CHECK(f.channel == all[got_n].channel);
			CHECK(f.len == all[got_n].len);
			CHECK(!memcmp(f.payload, all[got_n].payload, f.len));
			CHECK(f.payload[f.len] == '\0');
			got_n++;
		}
		off += len;
	}
	CHECK(d.state == AP_D_HEADER && d.hlen == 0);
	ap_decoder_fini(&d);
	return got_n;
}

static void every_type_round_trips(void)
{
	struct buf b;

	encode_all(&b);
	CHECK(decode_pieces((unsigned char *)b.data, b.len, 0, b.len) == NALL);
	for (unsigned t = 1; t <= AP_TYPE_MAX; t++)
		CHECK(strcmp(ap_type_name(t), "?") != 0);
	CHECK_STR(ap_type_name(0), "?");
	CHECK_STR(ap_type_name(AP_TYPE_MAX + 1), "?");
	buf_fini(&b);
}

static void split_at_every_byte(void)
{
	struct buf b;

	encode_all(&b);
	for (size_t cut = 1; cut < b.len; cut++)
		CHECK(decode_pieces((unsigned char *)b.data, b.len, cut, b.len) == NALL);
	CHECK(decode_pieces((unsigned char *)b.data, b.len, 0, 1) == NALL);
	CHECK(decode_pieces((unsigned char *)b.data, b.len, 0, 7) == NALL);
	buf_fini(&b);
}

/* Expects the bytes to fail with EXIT_VERIFY, naming `what`. */
static void expect_bad(const unsigned char *p, size_t n, const char *what)
{
	struct ap_decoder d;
	struct ap_frame f;
	struct err e;
	bool got;

	ap_decoder_init(&d);
	err_init(&e);
	CHECK(ap_decode(&d, p, n, &f, &got, &e) == -1);
	CHECK(!got);
	CHECK(e.code == EXIT_VERIFY);
	CHECK(strstr(e.msg, what) != NULL);
	/* Stays failed: the connection must go. */
	CHECK(ap_decode(&d, p, n, &f, &got, &e) == -1);
	CHECK(d.state == AP_D_FAILED);
	/* A reset (a new session) recovers. */
	ap_decoder_reset(&d);
	unsigned char ok[AP_HDR];
	ap_put_hdr(ok, AP_CLOSE, 9, 0);
	CHECK(ap_decode(&d, ok, sizeof(ok), &f, &got, &e) == AP_HDR && got && f.channel == 9);
	ap_decoder_fini(&d);
}

static void malformed_headers_fail(void)
{
	unsigned char h[AP_HDR];

	ap_put_hdr(h, AP_EXEC, 1, 2);
	h[0] = 'G';
	expect_bad(h, sizeof(h), "magic");
	ap_put_hdr(h, AP_EXEC, 1, 2);
	h[1] = 0;
	expect_bad(h, sizeof(h), "magic");
	ap_put_hdr(h, AP_EXEC, 1, 2);
	h[2] = AP_VERSION + 1;
	expect_bad(h, sizeof(h), "version");
	ap_put_hdr(h, 0, 1, 0);
	expect_bad(h, sizeof(h), "unknown frame type");
	ap_put_hdr(h, AP_TYPE_MAX + 1, 1, 0);
	expect_bad(h, sizeof(h), "unknown frame type");
	ap_put_hdr(h, 255, 1, 0);
	expect_bad(h, sizeof(h), "unknown frame type");
}

static void oversized_frames_fail(void)
{
	unsigned char h[AP_HDR];

	ap_put_hdr(h, AP_DATA, 1, LIMIT_FRAME + 1);
	expect_bad(h, sizeof(h), "ceiling");
	ap_put_hdr(h, AP_STDIN, 1, 0xffffffff);
	expect_bad(h, sizeof(h), "ceiling");
	ap_put_hdr(h, AP_EXEC, 1, LIMIT_AGENT_CONTROL + 1);
	expect_bad(h, sizeof(h), "ceiling");
	ap_put_hdr(h, AP_ACK, 1, 5);
	expect_bad(h, sizeof(h), "ceiling");
	ap_put_hdr(h, AP_CLOSE, 1, 1);
	expect_bad(h, sizeof(h), "ceiling");
	/* The header is judged before any payload memory is committed. */
	CHECK(ap_max_payload(AP_DATA) == LIMIT_FRAME);
	CHECK(ap_max_payload(AP_HELLO) == LIMIT_AGENT_CONTROL);
	CHECK(ap_max_payload(0) == 0);
}

static void largest_frame_is_accepted(void)
{
	struct buf b;
	struct ap_decoder d;
	struct ap_frame f;
	struct err e;
	bool got;
	char *big = malloc(LIMIT_FRAME);

	memset(big, 'z', LIMIT_FRAME);
	buf_init(&b, 2 * LIMIT_FRAME, "big");
	CHECK(ap_encode(&b, AP_DATA, 7, big, LIMIT_FRAME, &e) == 0);
	CHECK(b.len == AP_HDR + LIMIT_FRAME);
	ap_decoder_init(&d);
	CHECK(ap_decode(&d, b.data, b.len, &f, &got, &e) == (long)b.len);
	CHECK(got && f.len == LIMIT_FRAME && f.payload[LIMIT_FRAME - 1] == 'z');
	ap_decoder_fini(&d);
	buf_fini(&b);
	free(big);
}

static void encoder_refuses_over_ceiling(void)
{
	struct buf b;
	struct err e;

	buf_init(&b, 100, "small queue");
	err_init(&e);
	CHECK(ap_encode(&b, AP_ACK, 1, "12345", 5, &e) == -1 && e.code == EXIT_VERIFY);
	CHECK(b.len == 0);
	CHECK(ap_encode(&b, AP_STDOUT, 1, "x", 1, &e) == 0);
	/* The queue's own ceiling: never half a frame. */
	char p[90] = { 0 };
	CHECK(ap_encode(&b, AP_STDOUT, 1, p, sizeof(p), &e) == -1);
	CHECK(b.len == AP_HDR + 1);
	buf_fini(&b);
}

static void truncated_input_waits(void)
{
	struct buf b;
	struct ap_decoder d;
	struct ap_frame f;
	struct err e;
	bool got;

	buf_init(&b, 1024, "t");
	CHECK(ap_encode(&b, AP_EXEC, 1, "{\"argv\":[\"x\"]}", 14, &e) == 0);
	for (size_t cut = 0; cut < b.len; cut++) {
		ap_decoder_init(&d);
		CHECK(ap_decode(&d, b.data, cut, &f, &got, &e) == (long)cut);
		CHECK(!got);
		/* Half a header or half a payload: not a frame, not an error. */
		CHECK(cut == 0 || d.hlen > 0 || d.state == AP_D_PAYLOAD);
		ap_decoder_fini(&d);
	}
	buf_fini(&b);
}

/* Hunting: garbage, fake starts, wrong nonces, then the READY we want. */
static void hunting_skips_leftovers(void)
{
	struct buf b;
	struct err e;
	static const unsigned char junk[] = { 0x00, AP_MAGIC0, AP_MAGIC1, AP_VERSION,
					      0x7f, AP_MAGIC0, AP_MAGIC0, AP_MAGIC1,
					      0x09, 'x',       AP_MAGIC0 };

	buf_init(&b, 1 << 20, "dirty stream");
	buf_append(&b, junk, sizeof(junk), &e);
	/* A frame's tail (as if an earlier session died mid-frame). */
	buf_append(&b, "partial payload", 15, &e);
	ap_encode(&b, AP_STDOUT, 3, "old output", 10, &e);
	ap_encode(&b, AP_READY, 1111, "{\"stale\":1}", 11, &e); /* another nonce */
	buf_append(&b, junk, 3, &e);
	size_t want_at = b.len;
	ap_encode(&b, AP_READY, 4242, "{\"version\":1}", 13, &e);
	ap_encode(&b, AP_STDOUT, 1, "after", 5, &e);

	for (size_t step = 1; step <= b.len; step = step < 16 ? step + 1 : step * 2) {
		struct ap_decoder d;
		size_t off = 0;
		int frames = 0;

		ap_decoder_init(&d);
		ap_decoder_hunt(&d, AP_READY, false, 4242);
		while (off < b.len) {
			struct ap_frame f;
			bool got;
			size_t len = step < b.len - off ? step : b.len - off;
			long used = ap_decode(&d, b.data + off, len, &f, &got, &e);

			CHECK(used >= 0);
			if (used < 0)
				break;
			off += used;
			if (!got)
				continue;
			if (frames == 0) {
				CHECK(f.type == AP_READY && f.channel == 4242);
				CHECK(off == want_at + AP_HDR + 13);
				CHECK(d.skipped == want_at);
			} else {
				CHECK(f.type == AP_STDOUT && f.len == 5);
			}
			frames++;
		}
		CHECK(frames == 2);
		ap_decoder_fini(&d);
	}
	buf_fini(&b);
}

/* The agent side: any channel, type HELLO; zero flushes are skipped. */
static void hunting_for_hello_skips_zeros(void)
{
	struct buf b;
	struct err e;
	struct ap_decoder d;
	struct ap_frame f;
	bool got;
	size_t off = 0;
	static unsigned char zeros[4096];

	buf_init(&b, 1 << 20, "serial");
	buf_append(&b, zeros, sizeof(zeros), &e);
	ap_encode(&b, AP_EXEC, 1, "{}", 2, &e); /* not a HELLO: skipped too */
	ap_encode(&b, AP_HELLO, 77, "{\"version\":1}", 13, &e);
	ap_decoder_init(&d);
	ap_decoder_hunt(&d, AP_HELLO, true, 0);
	got = false;
	while (off < b.len && !got) {
		long used = ap_decode(&d, b.data + off, b.len - off, &f, &got, &e);

		CHECK(used >= 0);
		if (used < 0)
			break;
		off += used;
	}
	CHECK(got && f.type == AP_HELLO && f.channel == 77 && off == b.len);
	/* A header that matches the hunt but is over its ceiling is skipped too. */
	unsigned char h[AP_HDR];
	ap_decoder_hunt(&d, AP_HELLO, true, 0);
	ap_put_hdr(h, AP_HELLO, 1, LIMIT_AGENT_CONTROL + 1);
	CHECK(ap_decode(&d, h, sizeof(h), &f, &got, &e) == AP_HDR && !got);
	CHECK(d.hunting);
	ap_decoder_fini(&d);
	buf_fini(&b);
}

int main(void)
{
	HARNESS_BEGIN("agentproto");
	RUN(every_type_round_trips);
	RUN(split_at_every_byte);
	RUN(malformed_headers_fail);
	RUN(oversized_frames_fail);
	RUN(largest_frame_is_accepted);
	RUN(encoder_refuses_over_ceiling);
	RUN(truncated_input_waits);
	RUN(hunting_skips_leftovers);
	RUN(hunting_for_hello_skips_zeros);
	HARNESS_END();
}
