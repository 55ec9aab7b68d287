/* Small helpers: randomness, clocks, logging and the callback bracket that
 * lets destroy/unobserve wait for callbacks running on the network thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "sdk_internal.h"
#include "util/clock.h"

void sdk_random(void *out, size_t n)
{
    uint8_t *p = out;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            /* No entropy source at all: fall back to time-derived bytes;
             * only uniqueness (not secrecy) matters for ids. */
            uint64_t t = clock_now_ms() ^ ((uint64_t)getpid() << 32);
            for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(t >> (8 * (i % 8))) ^ (uint8_t)i;
            return;
        }
        p += r;
        n -= (size_t)r;
    }
}

uint64_t sdk_mono_ms(void) { return clock_now_ms(); }

void sdk_sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

void sdk_cond_wait_until(mqs_client *c, uint64_t deadline_ms)
{
    uint64_t now = sdk_mono_ms();
    if (now >= deadline_ms) return;
    /* The condvar uses CLOCK_MONOTONIC (set in mqs_client_new). */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t wait = deadline_ms - now;
    ts.tv_sec += (time_t)(wait / 1000);
    ts.tv_nsec += (long)(wait % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

void sdk_log(mqs_client *c, int level, const char *fmt, ...)
{
    if (!c->on_log) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->on_log(c, level, msg, c->ud);
}

bool sdk_on_loop_thread(mqs_client *c) { return c->has_loop_thread && pthread_equal(c->loop_thread, pthread_self()); }

void sdk_cb_begin(mqs_client *c) { c->callbacks_running++; }

void sdk_cb_end(mqs_client *c)
{
    c->callbacks_running--;
    pthread_cond_broadcast(&c->cv);
}

void sdk_wait_callbacks(mqs_client *c)
{
    if (sdk_on_loop_thread(c)) return;
    while (c->callbacks_running > 0) pthread_cond_wait(&c->cv, &c->mu);
}
