/* Registered gauge callbacks (gauges.h). */
#include "ops/gauges.h"

#include <string.h>

#include "ops/expo.h"

bool ops_gauges_add(ops_gauges *gs, const char *name, const char *help, ops_gauge_fn fn, void *ctx)
{
    if (gs->n == OPS_GAUGES_MAX || !fn || !expo_name_valid(name) || strncmp(name, "mqstated_", 9) != 0) return false;
    for (size_t i = 0; i < gs->n; i++)
        if (strcmp(gs->g[i].name, name) == 0) return false;
    gs->g[gs->n].name = name;
    gs->g[gs->n].help = help ? help : "";
    gs->g[gs->n].fn = fn;
    gs->g[gs->n].ctx = ctx;
    gs->n++;
    return true;
}

void ops_gauges_remove(ops_gauges *gs, const char *name)
{
    for (size_t i = 0; i < gs->n; i++) {
        if (strcmp(gs->g[i].name, name) != 0) continue;
        memmove(&gs->g[i], &gs->g[i + 1], (gs->n - i - 1) * sizeof gs->g[0]);
        gs->n--;
        return;
    }
}

void ops_gauges_write(const ops_gauges *gs, buf *out)
{
    for (size_t i = 0; i < gs->n; i++) {
        expo_family(out, gs->g[i].name, EXPO_GAUGE, gs->g[i].help);
        expo_f64(out, gs->g[i].name, NULL, gs->g[i].fn(gs->g[i].ctx));
    }
}
