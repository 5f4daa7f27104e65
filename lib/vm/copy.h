/* copy.h — docker cp for microVMs: files and directories both ways, through
 * the guest agent.
 *
 * A regular file goes with the agent's put and get (installed atomically,
 * mode kept). A directory goes as a tar stream through agent exec of the
 * guest's own tar(1): in, `tar -x -p -f - -C DIR` reads what the host
 * writes (owners and modes kept, the guest's tar running as root); out,
 * `tar -c -f - -C DIR NAME` is unpacked on the host by the confined
 * extractor (catalog/extract.h: nothing lands outside the destination;
 * modes kept without setuid/setgid, owners the caller's). The agent's
 * protocol is unchanged.
 *
 * Paths mean what they mean to cp: into an existing directory DST the source
 * goes under its own name; a DST that does not exist becomes the copy; a
 * trailing '/' on DST demands an existing directory; SRC ending in "/."
 * copies a directory's contents. "-" is a tar stream: on stdin for SRC (DST
 * must be a directory), on stdout for DST.
 *
 * Errors, one code a class: EXIT_NOTFOUND a source or a destination's
 * parent that does not exist; EXIT_USAGE a kind mismatch (a directory onto a
 * file, a trailing '/' on a non-directory); EXIT_GUEST the guest side failed
 * (its tar, the agent); EXIT_SYSTEM local I/O. Blocks.
 */
#ifndef BANGER_VM_COPY_H
#define BANGER_VM_COPY_H

struct agent_addr;
struct err;

/* Host local (a path, or "-" for a tar on stdin) into the guest's absolute
 * path remote. mode (-1: the file's own) applies to a single file. */
int vm_copy_in(const struct agent_addr *a, const char *local, const char *remote, long mode,
	       struct err *e);

/* The guest's absolute path remote to host local (a path, or "-" for a tar
 * on stdout). */
int vm_copy_out(const struct agent_addr *a, const char *remote, const char *local, struct err *e);

#endif
