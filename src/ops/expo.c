/* Prometheus text exposition (expo.h). */
#include "ops/expo.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void put(buf *b, const char *s) { buf_append(b, s, strlen(s)); }

/* HELP text escapes '\\' and newline; label values also '"'. */
static void put_escaped(buf *b, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\') put(b, "\\\\");
        else if (*s == '\n') put(b, "\\n");
        else if (quote && *s == '"') put(b, "\\\"");
        else buf_append_u8(b, (uint8_t)*s);
    }
}

void expo_family(buf *b, const char *name, expo_type type, const char *help)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    put(b, "# HELP ");
    put(b, name);
    buf_append_u8(b, ' ');
    put_escaped(b, help, false);
    put(b, "\n# TYPE ");
    put(b, name);
    buf_append_u8(b, ' ');
    put(b, types[type]);
    buf_append_u8(b, '\n');
}

static void put_name(buf *b, const char *name, const char *const *labels)
{
    put(b, name);
    if (!labels || !labels[0]) return;
    buf_append_u8(b, '{');
    for (size_t i = 0; labels[i]; i += 2) {
        if (i) buf_append_u8(b, ',');
        put(b, labels[i]);
        put(b, "=\"");
        put_escaped(b, labels[i + 1], true);
        buf_append_u8(b, '"');
    }
    buf_append_u8(b, '}');
}

void expo_u64(buf *b, const char *name, const char *const *labels, uint64_t v)
{
    char num[32];
    put_name(b, name, labels);
    int n = snprintf(num, sizeof num, " %" PRIu64 "\n", v);
    buf_append(b, num, (size_t)n);
}

void expo_f64(buf *b, const char *name, const char *const *labels, double v)
{
    char num[48];
    put_name(b, name, labels);
    int n;
    if (isnan(v)) n = snprintf(num, sizeof num, " NaN\n");
    else if (isinf(v)) n = snprintf(num, sizeof num, " %s\n", v > 0 ? "+Inf" : "-Inf");
    else n = snprintf(num, sizeof num, " %.17g\n", v);
    buf_append(b, num, (size_t)n);
}

void expo_histogram(buf *b, const char *name, const char *help, const double *bounds, const uint64_t *counts, size_t n,
                    double sum)
{
    char series[128], le[32];
    expo_family(b, name, EXPO_HISTOGRAM, help);
    snprintf(series, sizeof series, "%s_bucket", name);
    uint64_t cum = 0;
    for (size_t i = 0; i <= n; i++) {
        cum += counts[i];
        if (i < n) snprintf(le, sizeof le, "%.17g", bounds[i]);
        else snprintf(le, sizeof le, "+Inf");
        const char *labels[] = {"le", le, NULL};
        expo_u64(b, series, labels, cum);
    }
    snprintf(series, sizeof series, "%s_sum", name);
    expo_f64(b, series, NULL, sum);
    snprintf(series, sizeof series, "%s_count", name);
    expo_u64(b, series, NULL, cum);
}

bool expo_name_valid(const char *name)
{
    if (!name || !*name) return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(p != name && c >= '0' && c <= '9')) return false;
    }
    return true;
}
