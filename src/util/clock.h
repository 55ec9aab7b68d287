/* Millisecond clocks. Timeouts (keep-alive, session expiry, message
 * expiry) use the monotonic clock so wall-clock jumps cannot expire or
 * resurrect sessions; the wall clock is only for values shown to humans
 * or persisted across restarts. */
#ifndef MQS_UTIL_CLOCK_H
#define MQS_UTIL_CLOCK_H

#include <stdint.h>

/* Monotonic milliseconds since an arbitrary origin (boot). */
uint64_t clock_now_ms(void);
/* Milliseconds since the Unix epoch. */
uint64_t clock_wall_ms(void);

#endif
