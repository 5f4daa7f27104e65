/* init.h — the initramfs' /init (initramfs/init.c), reached through the
 * initramfs applet when it runs as PID 1. */
#ifndef BANGER_INITRAMFS_INIT_H
#define BANGER_INITRAMFS_INIT_H

/* Runs the boot: never returns (execs the real init, or powers off). */
__attribute__((noreturn)) void initramfs_init(void);

#endif
