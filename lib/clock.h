/* clock.h — milliseconds from the kernel's clocks, for deadlines and uptimes.
 *
 * Deadlines use CLOCK_MONOTONIC (never jumps with the wall clock); the guest's
 * "since boot" figures use CLOCK_BOOTTIME (counts suspend too). Never fails:
 * both clocks exist on every kernel banger runs on.
 */
#ifndef BANGER_CLOCK_H
#define BANGER_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in ms: for deadlines and durations. */
int64_t now_ms(void);
/* CLOCK_BOOTTIME in ms: time since the kernel started. */
int64_t boot_ms(void);

#endif
