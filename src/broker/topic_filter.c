/* Standalone topic filter helpers declared in topic_tree.h: the same
 * matching rules the tree applies, for one filter against one topic. */
#include <string.h>

#include "broker/topic_level.h"
#include "broker/topic_tree.h"

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN 7

bool topic_filter_split_share(mqtt_bytes full, mqtt_bytes *group, mqtt_bytes *filter)
{
    if (full.len <= SHARE_PREFIX_LEN || memcmp(full.data, SHARE_PREFIX, SHARE_PREFIX_LEN) != 0) return false;
    const uint8_t *g = full.data + SHARE_PREFIX_LEN;
    const uint8_t *end = full.data + full.len;
    const uint8_t *slash = memchr(g, '/', (size_t)(end - g));
    /* "$share/g" or "$share//f" or "$share/g/" is not a usable share. */
    if (!slash || slash == g || slash + 1 == end) return false;
    *group = (mqtt_bytes){g, (uint32_t)(slash - g)};
    *filter = (mqtt_bytes){slash + 1, (uint32_t)(end - slash - 1)};
    return true;
}

static bool is_wild(const uint8_t *lvl, uint32_t len, char w) { return len == 1 && lvl[0] == (uint8_t)w; }

bool topic_filter_matches(mqtt_bytes filter, mqtt_bytes topic)
{
    static const uint8_t empty[1];
    const uint8_t *f = filter.data ? filter.data : empty;
    const uint8_t *t = topic.data ? topic.data : empty;
    const uint8_t *fend = f + filter.len, *tend = t + topic.len;

    /* MQTT 5.0 §4.7.2: a wildcard first level never matches a "$" topic. */
    bool first_wild = filter.len > 0 && (f[0] == '+' || f[0] == '#') && (filter.len == 1 || f[1] == '/');
    if (first_wild && topic.len > 0 && t[0] == '$') return false;
    for (;;) {
        if (!f) return t == NULL;
        const uint8_t *fl, *tl;
        uint32_t flen = topic_level_next(&f, fend, &fl);
        if (is_wild(fl, flen, '#')) return true; /* also matches the parent level: "a/#" ~ "a" */
        if (!t) return false;
        uint32_t tlen = topic_level_next(&t, tend, &tl);
        if (!is_wild(fl, flen, '+') && (flen != tlen || memcmp(fl, tl, flen) != 0)) return false;
    }
}
