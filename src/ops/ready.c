/* Readiness conditions (ready.h). */
#include "ops/ready.h"

#include <assert.h>
#include <string.h>

int ops_ready_add(ops_ready *r, const char *name)
{
    size_t len = strlen(name);
    if (r->n == OPS_READY_MAX || len == 0 || len >= sizeof r->cond[0].name) return -1;
    memcpy(r->cond[r->n].name, name, len + 1);
    r->cond[r->n].ok = false;
    return (int)r->n++;
}

void ops_ready_set(ops_ready *r, int id, bool ok)
{
    assert(id >= 0 && (size_t)id < r->n);
    if (id >= 0 && (size_t)id < r->n) r->cond[id].ok = ok;
}

bool ops_ready_check(const ops_ready *r, buf *report)
{
    bool all = r->n > 0;
    for (size_t i = 0; i < r->n; i++) {
        all = all && r->cond[i].ok;
        if (!report) continue;
        const char *w = r->cond[i].ok ? "ok " : "not ";
        buf_append(report, w, strlen(w));
        buf_append(report, r->cond[i].name, strlen(r->cond[i].name));
        buf_append_u8(report, '\n');
    }
    return all;
}
