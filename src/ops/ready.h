/* Readiness: a set of named conditions, each added by the subsystem that
 * owns it and set true or false by it; the process is ready when every
 * condition holds (/readyz). Today the server adds "listeners" and
 * "persistence"; a cluster adds e.g. "leader_known" the same way. */
#ifndef MQS_OPS_READY_H
#define MQS_OPS_READY_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define OPS_READY_MAX 16

typedef struct ops_ready {
    size_t n;
    struct {
        char name[32];
        bool ok;
    } cond[OPS_READY_MAX];
} ops_ready;

/* Add a condition, initially false. Returns its id, or -1 when the set is
 * full or the name is empty or too long (a programming error). */
int ops_ready_add(ops_ready *r, const char *name);
void ops_ready_set(ops_ready *r, int id, bool ok);
/* True when every condition holds (and there is at least one). Appends
 * one line per condition ("ok listeners\n", "not persistence\n") to
 * `report` when it is not NULL. */
bool ops_ready_check(const ops_ready *r, buf *report);

#endif
