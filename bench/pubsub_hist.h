/* Latency histogram with bounded relative error and no allocation on the
 * record path: values are bucketed by their highest set bit plus the next
 * HIST_SUB_BITS bits, so every bucket spans at most 1/2^HIST_SUB_BITS of
 * its value (about 3%), from 1 ns to 2^64 ns. */
#ifndef MQS_BENCH_PUBSUB_HIST_H
#define MQS_BENCH_PUBSUB_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_BUCKETS (64 << HIST_SUB_BITS)

typedef struct hist {
    uint64_t count;
    uint64_t max;
    uint64_t buckets[HIST_BUCKETS];
} hist;

void hist_reset(hist *h);
void hist_record(hist *h, uint64_t value);
/* Value at quantile q (0..1): the upper bound of the bucket holding it,
 * capped at the largest value recorded. 0 when empty. */
uint64_t hist_quantile(const hist *h, double q);

#endif
