#include "util/clock.h"

#include <time.h>

static uint64_t read_ms(clockid_t id)
{
    struct timespec ts;
    /* Cannot fail for these clock ids on Linux. */
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t clock_now_ms(void) { return read_ms(CLOCK_MONOTONIC); }
uint64_t clock_wall_ms(void) { return read_ms(CLOCK_REALTIME); }
