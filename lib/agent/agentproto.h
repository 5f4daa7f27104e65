/* agentproto.h — the host ↔ guest agent wire protocol (docs/agent-protocol.md).
 *
 * Pure byte-level code, no sockets: a decoder fed whatever bytes arrived
 * (any split), and encoders that append whole frames to a struct buf.
 *
 * A frame is a 12-byte header then `len` payload bytes:
 *
 *   0  2  magic 0xBA 0x9E
 *   2  1  version (AP_VERSION)
 *   3  1  type (enum ap_type)
 *   4  4  channel, big-endian (0 = the session; HELLO/READY carry a nonce)
 *   8  4  payload length, big-endian, at most ap_max_payload(type)
 *
 * Control payloads are JSON objects; STDIN/STDOUT/STDERR/DATA are raw bytes;
 * ACK is a 4-byte big-endian count. Ceilings are in limits.h.
 */
#ifndef BANGER_AGENTPROTO_H
#define BANGER_AGENTPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct buf;

#define AP_MAGIC0 0xBA
#define AP_MAGIC1 0x9E
#define AP_VERSION 1
#define AP_HDR 12
#define AP_PORT 10789				      /* default AF_VSOCK port */
#define AP_SERIAL_NAME "org.banger.agent"	      /* virtio-serial port name */
#define AP_SERIAL_FORWARD_NAME "org.banger.forward"   /* the port -p's forwarder uses */
#define AP_SERIAL "/dev/virtio-ports/" AP_SERIAL_NAME /* its udev link */
#define AP_SERIAL_FORWARD "/dev/virtio-ports/" AP_SERIAL_FORWARD_NAME
#define AP_CHUNK (64 * 1024) /* data frames are sent in chunks this big */

enum ap_type {
	AP_HELLO = 1,	  /* h→a  ch=nonce  JSON {"version"} — starts (or restarts) a session */
	AP_READY = 2,	  /* a→h  ch=nonce  JSON agent facts */
	AP_EXEC = 3,	  /* h→a  JSON {"argv","env","cwd","user","pty":{rows,cols},"term"} */
	AP_STDIN = 4,	  /* h→a  raw; empty = end of input */
	AP_STDOUT = 5,	  /* a→h  raw */
	AP_STDERR = 6,	  /* a→h  raw */
	AP_RESIZE = 7,	  /* h→a  JSON {"rows","cols"} */
	AP_SIGNAL = 8,	  /* h→a  JSON {"signal"} */
	AP_EXIT = 9,	  /* a→h  JSON {"code"} or {"signal"}; ends the channel */
	AP_PUT = 10,	  /* h→a  JSON {"path","mode","uid","gid","size"} then DATA… */
	AP_GET = 11,	  /* h→a  JSON {"path"} */
	AP_FILE = 12,	  /* a→h  JSON {"size","mode","uid","gid"} then DATA… */
	AP_DATA = 13,	  /* both raw; empty = end of file */
	AP_OK = 14,	  /* a→h  JSON {}; ends the channel (put committed, shutdown accepted) */
	AP_ERROR = 15,	  /* a→h  JSON {"code","message"}; ends the channel (ch 0: session) */
	AP_ACK = 16,	  /* a→h  4-byte count: STDIN/DATA bytes consumed, window credit back */
	AP_CLOSE = 17,	  /* h→a  empty: abort the channel (kill the exec, drop the put) */
	AP_SHUTDOWN = 18, /* h→a  JSON {"action":"poweroff"|"reboot"} */
	AP_CONNECT = 19,  /* h→a  JSON {"port","host"}: a TCP connection in the guest; DATA… */
	AP_IDENTITY = 20, /* h→a  ch 0, JSON struct ap_identity (identity.h); OK or ERROR */
	AP_TYPE_MAX = 20,
};

struct ap_hdr {
	uint8_t type;
	uint32_t channel;
	uint32_t len;
};

/* Name of a frame type ("exec"), or "?" for an unknown one. */
const char *ap_type_name(unsigned type);

/* Largest payload allowed for a frame of this type (0 for unknown types). */
size_t ap_max_payload(unsigned type);

/* Writes the 12-byte header. Never fails. */
void ap_put_hdr(unsigned char out[AP_HDR], unsigned type, uint32_t channel, uint32_t len);

/* Parses and checks a 12-byte header: magic, version, known type, length
 * within its ceiling. -1 with e set (EXIT_VERIFY) when any check fails. */
int ap_parse_hdr(const unsigned char in[AP_HDR], struct ap_hdr *h, struct err *e);

/* Append one whole frame to out (ceiling of out applies). -1 with e set when
 * len exceeds the type's ceiling or out is full. Never blocks. */
int ap_encode(struct buf *out, unsigned type, uint32_t channel, const void *payload, size_t len,
	      struct err *e);

/* The decoder: caller-owned, ap_decoder_init/ap_decoder_fini. */
enum ap_dstate { AP_D_HEADER, AP_D_PAYLOAD, AP_D_FAILED };

struct ap_decoder {
	enum ap_dstate state;
	unsigned char hdr[AP_HDR];
	size_t hlen;
	struct ap_hdr cur;
	unsigned char *payload; /* malloc'd, grows to the largest frame seen */
	size_t plen, pcap;
	/* Hunting (resync): skip bytes until a header of this type (and, when
	 * hunt_any_channel is false, this channel) appears. */
	bool hunting;
	uint8_t hunt_type;
	bool hunt_any_channel;
	uint32_t hunt_channel;
	size_t skipped; /* bytes discarded while hunting, for diagnostics */
};

/* A decoded frame: valid until the next ap_decode call on the same decoder. */
struct ap_frame {
	uint8_t type;
	uint32_t channel;
	uint32_t len;
	const unsigned char *payload; /* NUL-terminated (not counted in len) */
};

void ap_decoder_init(struct ap_decoder *d);
void ap_decoder_fini(struct ap_decoder *d);
/* Forgets any partial frame and leaves hunting mode (a new session). */
void ap_decoder_reset(struct ap_decoder *d);
/* Enters hunting mode: bytes are discarded until a valid header of `type`
 * (with `channel`, unless any_channel) is found; its frame is then decoded
 * normally and hunting ends. Used for resync on a shared stream. */
void ap_decoder_hunt(struct ap_decoder *d, unsigned type, bool any_channel, uint32_t channel);

/* Consumes up to n bytes of p. Returns the number of bytes consumed; when a
 * whole frame is complete it stops right after it and sets *got = true with f
 * filled. Call again with the rest. -1 with e set (EXIT_VERIFY, or
 * EXIT_SYSTEM when out of memory) on a malformed or oversized frame; the
 * decoder then stays failed until ap_decoder_reset or ap_decoder_hunt.
 * Never blocks. */
long ap_decode(struct ap_decoder *d, const void *p, size_t n, struct ap_frame *f, bool *got,
	       struct err *e);

/* Big-endian helpers. */
uint32_t ap_get32(const unsigned char *p);
void ap_set32(unsigned char *p, uint32_t v);

#endif
