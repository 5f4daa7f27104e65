/* clock.c — see clock.h. */
#include "clock.h"

#include <time.h>

static int64_t clock_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t boot_ms(void)
{
	return clock_ms(CLOCK_BOOTTIME);
}
