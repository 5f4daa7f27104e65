/* fuzz-agentproto — lib/agent/agentproto.c, the frame decoder. The first
 * byte picks the mode (plain, or hunting for a frame type after a resync),
 * the second seeds how the rest is cut up. Invariants: the frames decoded,
 * the bytes skipped and where decoding stops or fails are the same however
 * the stream is split (whole, byte by byte, random pieces); every frame
 * re-encodes (ap_encode) to exactly the bytes it was decoded from. */
#include "fuzz.h"

#include "agent/agentproto.h"
#include "buf.h"
#include "err.h"

struct run {
	struct buf frames; /* each decoded frame, re-encoded */
	size_t used;	   /* bytes consumed until the end or the failure */
	bool failed;
	size_t skipped;
};

static void decode(const uint8_t *p, size_t n, uint8_t mode, unsigned seed, int how,
		   struct run *out)
{
	struct ap_decoder d;
	struct ap_frame f;
	struct err e;
	size_t i = 0;

	buf_init(&out->frames, 64u << 20, "frames");
	out->failed = false;
	ap_decoder_init(&d);
	if (mode & 1)
		ap_decoder_hunt(&d, 1 + (mode >> 1) % AP_TYPE_MAX, mode & 0x80, mode >> 4);
	while (i < n) {
		size_t piece = how == 0	  ? n - i
			       : how == 1 ? 1
					  : 1 + (seed = seed * 1103515245u + 12345u) % 97;
		bool got;
		long r;

		if (piece > n - i)
			piece = n - i;
		err_init(&e);
		r = ap_decode(&d, p + i, piece, &f, &got, &e);
		if (r < 0) {
			FUZZ_CHECK(e.msg[0]);
			out->failed = true;
			break;
		}
		FUZZ_CHECK((size_t)r <= piece);
		i += (size_t)r;
		if (got) {
			FUZZ_CHECK(f.len <= ap_max_payload(f.type));
			FUZZ_CHECK(f.payload[f.len] == '\0');
			FUZZ_CHECK(ap_encode(&out->frames, f.type, f.channel, f.payload, f.len,
					     &e) == 0);
			/* Not hunting, the frame is the last 12+len bytes consumed. */
			if (!(mode & 1)) {
				const char *enc =
					out->frames.data + out->frames.len - AP_HDR - f.len;

				FUZZ_CHECK(i >= AP_HDR + f.len);
				FUZZ_CHECK(!memcmp(enc, p + i - AP_HDR - f.len, AP_HDR + f.len));
			}
		} else {
			FUZZ_CHECK((size_t)r == piece);
		}
	}
	out->used = i;
	out->skipped = d.skipped;
	ap_decoder_fini(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run a, b;

	if (size < 2)
		return 0;
	decode(data + 2, size - 2, data[0], data[1], 0, &a);
	for (int how = 1; how <= 2; how++) {
		decode(data + 2, size - 2, data[0], data[1], how, &b);
		FUZZ_CHECK(a.failed == b.failed && a.skipped == b.skipped);
		FUZZ_CHECK(a.frames.len == b.frames.len);
		FUZZ_CHECK(!a.frames.len || !memcmp(a.frames.data, b.frames.data, a.frames.len));
		/* Unless it failed, everything was consumed. */
		FUZZ_CHECK(a.failed || (a.used == size - 2 && b.used == size - 2));
		buf_fini(&b.frames);
	}
	buf_fini(&a.frames);
	return 0;
}
