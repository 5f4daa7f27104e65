/* agentproto.c — see agentproto.h. */
#include "agent/agentproto.h"
#include "buf.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[] = {
	[AP_HELLO] = "hello",	  [AP_READY] = "ready",
	[AP_EXEC] = "exec",	  [AP_STDIN] = "stdin",
	[AP_STDOUT] = "stdout",	  [AP_STDERR] = "stderr",
	[AP_RESIZE] = "resize",	  [AP_SIGNAL] = "signal",
	[AP_EXIT] = "exit",	  [AP_PUT] = "put",
	[AP_GET] = "get",	  [AP_FILE] = "file",
	[AP_DATA] = "data",	  [AP_OK] = "ok",
	[AP_ERROR] = "error",	  [AP_ACK] = "ack",
	[AP_CLOSE] = "close",	  [AP_SHUTDOWN] = "shutdown",
	[AP_CONNECT] = "connect", [AP_IDENTITY] = "identity",
};

const char *ap_type_name(unsigned type)
{
	return type >= 1 && type <= AP_TYPE_MAX ? names[type] : "?";
}

size_t ap_max_payload(unsigned type)
{
	switch (type) {
	case AP_STDIN:
	case AP_STDOUT:
	case AP_STDERR:
	case AP_DATA:
		return LIMIT_FRAME;
	case AP_ACK:
		return 4;
	case AP_CLOSE:
		return 0;
	default:
		return type >= 1 && type <= AP_TYPE_MAX ? LIMIT_AGENT_CONTROL : 0;
	}
}

uint32_t ap_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void ap_set32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

void ap_put_hdr(unsigned char out[AP_HDR], unsigned type, uint32_t channel, uint32_t len)
{
	out[0] = AP_MAGIC0;
	out[1] = AP_MAGIC1;
	out[2] = AP_VERSION;
	out[3] = type;
	ap_set32(out + 4, channel);
	ap_set32(out + 8, len);
}

int ap_parse_hdr(const unsigned char in[AP_HDR], struct ap_hdr *h, struct err *e)
{
	if (in[0] != AP_MAGIC0 || in[1] != AP_MAGIC1)
		return err_set(e, EXIT_VERIFY,
			       "agent stream: bad frame magic %02x%02x — not a banger agent peer, "
			       "or the stream is out of step",
			       in[0], in[1]);
	if (in[2] != AP_VERSION)
		return err_set(e, EXIT_VERIFY,
			       "agent stream: protocol version %u, this side speaks %u — use the "
			       "same banger on host and guest",
			       in[2], AP_VERSION);
	if (in[3] < 1 || in[3] > AP_TYPE_MAX)
		return err_set(e, EXIT_VERIFY, "agent stream: unknown frame type %u", in[3]);
	h->type = in[3];
	h->channel = ap_get32(in + 4);
	h->len = ap_get32(in + 8);
	if (h->len > ap_max_payload(h->type))
		return err_set(e, EXIT_VERIFY,
			       "agent stream: %s frame of %u bytes is over its ceiling of %zu",
			       ap_type_name(h->type), (unsigned)h->len, ap_max_payload(h->type));
	return 0;
}

int ap_encode(struct buf *out, unsigned type, uint32_t channel, const void *payload, size_t len,
	      struct err *e)
{
	unsigned char h[AP_HDR];
	size_t old = out->len;

	if (len > ap_max_payload(type))
		return err_set(e, EXIT_VERIFY, "agent: %s frame of %zu bytes is over its ceiling",
			       ap_type_name(type), len);
	ap_put_hdr(h, type, channel, (uint32_t)len);
	if (buf_append(out, h, sizeof(h), e) < 0)
		return -1;
	if (len && buf_append(out, payload, len, e) < 0) {
		out->len = old; /* never leave half a frame queued */
		out->data[old] = '\0';
		return -1;
	}
	return 0;
}

void ap_decoder_init(struct ap_decoder *d)
{
	memset(d, 0, sizeof(*d));
	d->state = AP_D_HEADER;
}

void ap_decoder_fini(struct ap_decoder *d)
{
	free(d->payload);
	ap_decoder_init(d);
}

void ap_decoder_reset(struct ap_decoder *d)
{
	d->state = AP_D_HEADER;
	d->hlen = 0;
	d->plen = 0;
	d->hunting = false;
	/* A big frame's buffer is not kept past a session. */
	if (d->pcap > AP_CHUNK + 1) {
		free(d->payload);
		d->payload = NULL;
		d->pcap = 0;
	}
}

void ap_decoder_hunt(struct ap_decoder *d, unsigned type, bool any_channel, uint32_t channel)
{
	ap_decoder_reset(d);
	d->hunting = true;
	d->hunt_type = type;
	d->hunt_any_channel = any_channel;
	d->hunt_channel = channel;
}

/* While hunting: could hdr[0..hlen) be the start of the header we want? */
static bool hunt_prefix_ok(const struct ap_decoder *d)
{
	const unsigned char *h = d->hdr;
	size_t n = d->hlen;
	unsigned char want[8];
	struct ap_hdr parsed;
	struct err e;

	want[0] = AP_MAGIC0;
	want[1] = AP_MAGIC1;
	want[2] = AP_VERSION;
	want[3] = d->hunt_type;
	ap_set32(want + 4, d->hunt_channel);
	for (size_t i = 0; i < n && i < (d->hunt_any_channel ? 4u : 8u); i++)
		if (h[i] != want[i])
			return false;
	if (n < AP_HDR)
		return true;
	err_init(&e);
	return ap_parse_hdr(h, &parsed, &e) == 0;
}

static long frame_done(struct ap_decoder *d, long used, struct ap_frame *f, bool *got)
{
	if (d->payload)
		d->payload[d->plen] = '\0';
	f->type = d->cur.type;
	f->channel = d->cur.channel;
	f->len = d->cur.len;
	f->payload = d->payload ? d->payload : (const unsigned char *)"";
	d->state = AP_D_HEADER;
	d->hlen = 0;
	d->plen = 0;
	*got = true;
	return used;
}

static int start_payload(struct ap_decoder *d, struct err *e)
{
	if (d->cur.len + 1 > d->pcap) {
		unsigned char *p = realloc(d->payload, d->cur.len + 1);

		if (!p) {
			d->state = AP_D_FAILED;
			return err_set(e, EXIT_SYSTEM,
				       "agent stream: out of memory for a %u-byte frame",
				       (unsigned)d->cur.len);
		}
		d->payload = p;
		d->pcap = d->cur.len + 1;
	}
	d->plen = 0;
	d->state = AP_D_PAYLOAD;
	return 0;
}

long ap_decode(struct ap_decoder *d, const void *p, size_t n, struct ap_frame *f, bool *got,
	       struct err *e)
{
	const unsigned char *c = p;
	size_t i = 0;

	*got = false;
	if (d->state == AP_D_FAILED)
		return err_set(e, EXIT_VERIFY, "agent stream: out of step after an earlier error");
	while (i < n) {
		if (d->state == AP_D_HEADER) {
			if (d->hunting) {
				d->hdr[d->hlen++] = c[i++];
				while (d->hlen && !hunt_prefix_ok(d)) {
					memmove(d->hdr, d->hdr + 1, --d->hlen);
					d->skipped++;
				}
				if (d->hlen < AP_HDR)
					continue;
				d->hunting = false;
			} else {
				size_t take = AP_HDR - d->hlen;

				if (take > n - i)
					take = n - i;
				memcpy(d->hdr + d->hlen, c + i, take);
				d->hlen += take;
				i += take;
				if (d->hlen < AP_HDR)
					break;
			}
			if (ap_parse_hdr(d->hdr, &d->cur, e) < 0) {
				d->state = AP_D_FAILED;
				return -1;
			}
			if (start_payload(d, e) < 0)
				return -1;
			if (d->cur.len == 0)
				return frame_done(d, (long)i, f, got);
			continue;
		}
		/* AP_D_PAYLOAD */
		size_t take = d->cur.len - d->plen;

		if (take > n - i)
			take = n - i;
		memcpy(d->payload + d->plen, c + i, take);
		d->plen += take;
		i += take;
		if (d->plen == d->cur.len)
			return frame_done(d, (long)i, f, got);
	}
	return (long)i;
}
