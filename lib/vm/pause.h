/* pause.h — stopping a running VM's vCPUs and letting them go on, asked of
 * its VMM: QMP stop/cont (QEMU), PATCH /vm Paused|Resumed (Firecracker).
 *
 * The VMM is the record. Nothing is written into the VM's directory: a
 * file would go on saying "paused" after a pause that died halfway, or
 * after the VMM itself went, so vm list asks the VMM (QMP query-status,
 * Firecracker's GET /) whenever it shows a running VM. A paused VM is
 * still "running" to vm_status_get (its VMM process lives); only the
 * name shown says "paused".
 *
 * Every call blocks on the VMM's socket, each answer bounded by a timeout.
 */
#ifndef BANGER_PAUSE_H
#define BANGER_PAUSE_H

#include <stddef.h>

#include "vm/vm.h"

struct err;

#define VM_QUERY_TIMEOUT_MS 1000 /* how long vm list waits for a VMM's state */

enum vm_run_state { VM_RUN_UNKNOWN, VM_RUN_RUNNING, VM_RUN_PAUSED };

/* Firecracker's API socket as this host sees it: the VM's api.sock, or
 * the one in its jail (--jail). EXIT_USAGE when the path is too long. */
int vm_api_sock(const struct vm_paths *p, const struct vm_config *c, char *out, size_t size,
		struct err *e);

/* Whether the vCPUs of a running VM run, asked of its VMM (answers within
 * timeout_ms). UNKNOWN with e set when the VMM does not say. */
enum vm_run_state vm_run_state_get(const struct vm_paths *p, const struct vm_config *c,
				   int timeout_ms, struct err *e);

/* The state to show: vm_status_name(st), but "paused" for a running VM
 * whose VMM says so (one query, VM_QUERY_TIMEOUT_MS). Never fails. */
const char *vm_state_shown(const struct vm_paths *p, const struct vm_config *c, enum vm_status st);

/* Pauses or resumes the vCPUs; the caller holds the VM's lock. EXIT_NO
 * when the VM is not running, when it is already paused (vm_pause) or not
 * paused (vm_resume); EXIT_GUEST when the VMM refuses or does not answer. */
int vm_pause(const struct vm_paths *p, const struct vm_config *c, struct err *e);
int vm_resume(const struct vm_paths *p, const struct vm_config *c, struct err *e);

#endif
