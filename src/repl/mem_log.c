/* The in-memory log (repl/log.h): every proposal commits at once, inside
 * repl_log_propose, and nothing is kept. This is today's behaviour (no
 * durability) behind the interface the durable and replicated logs share. */
#include <assert.h>
#include <stdlib.h>

#include "repl/log.h"
#include "util/alloc.h"

typedef struct mem_log {
    repl_log base; /* first: a repl_log * is a mem_log * */
    uint64_t last_index;
} mem_log;

static bool mem_log_propose(repl_log *l, const uint8_t *rec, size_t len, uint64_t tag)
{
    mem_log *m = (mem_log *)l;
    assert(tag != 0);
    m->last_index++;
    m->base.on_commit(m->base.ctx, m->last_index, rec, len, tag);
    return true;
}

static void mem_log_flush(repl_log *l) { (void)l; }

static void mem_log_free(repl_log *l) { free(l); }

static const repl_log_vtable mem_log_vt = {
    .propose = mem_log_propose,
    .flush = mem_log_flush,
    .free = mem_log_free,
};

repl_log *repl_mem_log_new(repl_commit_fn on_commit, repl_fail_fn on_fail, void *ctx)
{
    assert(on_commit);
    mem_log *m = xmalloc(sizeof *m);
    *m = (mem_log){.base = {.vt = &mem_log_vt, .on_commit = on_commit, .on_fail = on_fail, .ctx = ctx}};
    return &m->base;
}
