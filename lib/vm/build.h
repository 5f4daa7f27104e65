/* build.h — an image build's second stage, run in a VM.
 *
 * For whoever cannot chroot (an ordinary user; or asked for): the first
 * stage's disk is booted as the base of a throw-away VM (vms/build-IMAGE-
 * PID: --disk overlay, --net none, --init minimal, so banger is PID 1 and
 * nothing of the half-made system starts), the job's script runs as root
 * through the agent, the VM stops cleanly, and base plus what the script
 * changed is flattened into the new image by the native writer
 * (commit.h's vm_flatten, times clamped for reproducibility). The VM is
 * removed however it ends. Needs the default kernel (pulled when missing).
 * Blocks for the whole boot and script: minutes under TCG.
 */
#ifndef BANGER_VM_BUILD_H
#define BANGER_VM_BUILD_H

struct err;
struct image_guest_job;

/* image_debian.h's image_guest.run; ud is the const struct store *. */
int vm_build_in_guest(void *ud, const struct image_guest_job *j, int *status, struct err *e);

#endif
