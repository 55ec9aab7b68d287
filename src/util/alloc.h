/* Allocation wrappers. Running out of memory is not a recoverable condition
 * for the broker (as in Redis): these abort with a message instead of
 * returning NULL, so callers never carry an OOM error path. */
#ifndef MQS_UTIL_ALLOC_H
#define MQS_UTIL_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Copy n bytes into a fresh allocation (n may be 0: returns a valid pointer). */
void *xmemdup(const void *p, size_t n);

#endif
