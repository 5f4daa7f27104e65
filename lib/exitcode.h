/* exitcode.h — the one table of banger's exit codes (docs/architecture.md). */
#ifndef BANGER_EXITCODE_H
#define BANGER_EXITCODE_H

enum {
	EXIT_OK = 0,
	EXIT_NO = 1,	   /* a "no" answer: check failed, nothing to do */
	EXIT_USAGE = 2,	   /* bad command line */
	EXIT_NOTIMPL = 3,  /* declared, not implemented yet */
	EXIT_NETWORK = 4,  /* connect, DNS, TLS, HTTP status */
	EXIT_VERIFY = 5,   /* digest/size mismatch, malformed or unsafe input */
	EXIT_SYSTEM = 6,   /* I/O, permissions, disk full, resources */
	EXIT_NOTFOUND = 7, /* no such kernel, image, VM, catalog entry */
	EXIT_BUSY = 8,	   /* locked by another banger, or already exists */
	EXIT_GUEST = 9,	   /* the VM or guest agent failed or timed out */
	EXIT_SIGNAL = 128, /* + N: a child killed by signal N */
};

/* Human name of an exit code, for docs and `--help`. */
const char *exitcode_name(int code);

#endif
