/* The Prometheus text exposition format 0.0.4, written into a buf (pure).
 *
 * A family is its HELP and TYPE lines followed by its samples; the caller
 * writes each family once, all its samples together (the format requires
 * it). Names and label names are the caller's constants; label values are
 * escaped here. */
#ifndef MQS_OPS_EXPO_H
#define MQS_OPS_EXPO_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef enum expo_type { EXPO_COUNTER, EXPO_GAUGE, EXPO_HISTOGRAM } expo_type;

/* "# HELP name help\n# TYPE name type\n". */
void expo_family(buf *b, const char *name, expo_type type, const char *help);
/* "name{labels} v\n". `labels` is NULL or "k1", "v1", "k2", "v2", ...
 * ending with NULL (at most 4 pairs). */
void expo_u64(buf *b, const char *name, const char *const *labels, uint64_t v);
void expo_f64(buf *b, const char *name, const char *const *labels, double v);
/* A whole histogram family without labels: counts[i] observations fell in
 * (bounds[i-1], bounds[i]] and counts[n] above bounds[n-1]; written as the
 * cumulative _bucket series with le="+Inf", then _sum and _count. */
void expo_histogram(buf *b, const char *name, const char *help, const double *bounds, const uint64_t *counts, size_t n,
                    double sum);
/* Whether `name` is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*). */
bool expo_name_valid(const char *name);

#endif
