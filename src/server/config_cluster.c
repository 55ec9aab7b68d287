/* The `cluster:` section (see config_cluster.h). */
#include "server/config_cluster.h"

#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMING_MAX 600000u

void config_cluster_init(config_cluster *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "mqstate");
    c->election_timeout_ms = 500;
    c->heartbeat_ms = 50;
    c->request_wait_ms = 10000;
    c->snapshot_entries = 8192;
    c->route_max_filters = 100000;
}

static int parse_string(schema_ctx *sc, const yaml_node_t *v, const char *path, char *out, size_t cap, const char *what)
{
    const char *s = schema_scalar(sc, v, path, what);
    if (!s) return -1;
    size_t n = v->data.scalar.length;
    if (n == 0 || n >= cap || strlen(s) != n)
        return schema_fail(sc, v, "%s: expected %s (1 to %zu bytes)", path, what, cap - 1);
    memcpy(out, s, n + 1);
    return 0;
}

/* "host:port" with a port 1..65535: libraft and the node links resolve the host. */
static int parse_address(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    char *out = (char *)target + spec->offset;
    if (parse_string(sc, v, path, out, CONFIG_CLUSTER_ADDRESS_MAX + 1, "a host:port address") != 0) return -1;
    const char *colon = strrchr(out, ':');
    unsigned long port = 0;
    char *end = NULL;
    if (colon) port = strtoul(colon + 1, &end, 10);
    if (!colon || colon == out || !end || *end || colon[1] == 0 || port == 0 || port > 65535)
        return schema_fail(sc, v, "%s: expected host:port with a port from 1 to 65535, got \"%s\"", path, out);
    return 0;
}

static int parse_path(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    return parse_string(sc, v, path, (char *)target + spec->offset, CONFIG_CLUSTER_PATH_MAX, "a file path");
}

/* Letters, digits, '.', '_', '-': it appears in HELLOs, logs and JSON. */
static int parse_name(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    char *out = (char *)target + spec->offset;
    if (parse_string(sc, v, path, out, CONFIG_CLUSTER_NAME_MAX + 1, "a cluster name") != 0) return -1;
    if (out[strspn(out, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")])
        return schema_fail(sc, v, "%s: expected letters, digits, '.', '_' or '-', got \"%s\"", path, out);
    return 0;
}

static const key_spec member_keys[] = {
    {"id", schema_parse_uint, offsetof(config_cluster_member, id), 8, 1, UINT32_MAX, NULL, NULL},
    {"raft_address", parse_address, offsetof(config_cluster_member, raft_address), 0, 0, 0, NULL, NULL},
    {"link_address", parse_address, offsetof(config_cluster_member, link_address), 0, 0, 0, NULL, NULL},
    SCHEMA_END,
};

static int parse_members(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    (void)spec;
    config_cluster *c = target;
    size_t n = v->type == YAML_SEQUENCE_NODE ? (size_t)(v->data.sequence.items.top - v->data.sequence.items.start) : 0;
    if (v->type != YAML_SEQUENCE_NODE || n == 0 || n > CONFIG_CLUSTER_MEMBERS_MAX)
        return schema_fail(sc, v, "%s: expected a list of 1 to %d members ({id, raft_address, link_address})", path,
                           CONFIG_CLUSTER_MEMBERS_MAX);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *item = yaml_document_get_node(sc->doc, v->data.sequence.items.start[i]);
        char ipath[64];
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        config_cluster_member *m = &c->members[i];
        memset(m, 0, sizeof *m);
        if (item->type != YAML_MAPPING_NODE)
            return schema_fail(sc, item, "%s: expected a mapping {id, raft_address, link_address}", ipath);
        if (schema_walk(sc, item, ipath, member_keys, m) != 0) return -1;
        if (!m->id || !m->raft_address[0] || !m->link_address[0])
            return schema_fail(sc, item, "%s: id, raft_address and link_address are required", ipath);
        for (size_t j = 0; j < i; j++) {
            const config_cluster_member *o = &c->members[j];
            if (o->id == m->id)
                return schema_fail(sc, item, "%s.id: %llu is also members[%zu]", ipath, (unsigned long long)m->id, j);
            if (!strcmp(o->raft_address, m->raft_address) || !strcmp(o->link_address, m->link_address) ||
                !strcmp(o->raft_address, m->link_address) || !strcmp(o->link_address, m->raft_address))
                return schema_fail(sc, item, "%s: an address of members[%zu] again (each address is one node's)", ipath,
                                   j);
        }
        if (!strcmp(m->raft_address, m->link_address))
            return schema_fail(sc, item, "%s: raft_address and link_address must differ", ipath);
    }
    c->n_members = (uint32_t)n;
    return 0;
}

static const key_spec tls_keys[] = {
    {"cert_file", parse_path, offsetof(config_cluster, cert_file), 0, 0, 0, NULL, NULL},
    {"key_file", parse_path, offsetof(config_cluster, key_file), 0, 0, 0, NULL, NULL},
    {"ca_file", parse_path, offsetof(config_cluster, ca_file), 0, 0, 0, NULL, NULL},
    {"crl_file", parse_path, offsetof(config_cluster, crl_file), 0, 0, 0, NULL, NULL},
    SCHEMA_END,
};

static int check_tls(schema_ctx *sc, const yaml_node_t *mapping, const char *path, void *target)
{
    config_cluster *c = target;
    c->tls = true;
    if (!c->cert_file[0] || !c->key_file[0] || !c->ca_file[0])
        return schema_fail(sc, mapping, "%s: cert_file, key_file and ca_file are required (mutual authentication)",
                           path);
    return 0;
}

static int parse_bool(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    const char *s = schema_scalar(sc, v, path, "true or false");
    if (!s) return -1;
    bool *out = (bool *)((char *)target + spec->offset);
    if (!strcmp(s, "true")) *out = true;
    else if (!strcmp(s, "false")) *out = false;
    else return schema_fail(sc, v, "%s: expected true or false, got \"%s\"", path, s);
    return 0;
}

static const key_spec cluster_keys[] = {
    {"name", parse_name, offsetof(config_cluster, name), 0, 0, 0, NULL, NULL},
    {"node_id", schema_parse_uint, offsetof(config_cluster, node_id), 8, 1, UINT32_MAX, NULL, NULL},
    {"members", parse_members, 0, 0, 0, 0, NULL, NULL},
    {"election_timeout_ms", schema_parse_uint, offsetof(config_cluster, election_timeout_ms), 4, 50, TIMING_MAX, NULL,
     NULL},
    {"heartbeat_ms", schema_parse_uint, offsetof(config_cluster, heartbeat_ms), 4, 10, TIMING_MAX, NULL, NULL},
    {"request_wait_ms", schema_parse_uint, offsetof(config_cluster, request_wait_ms), 4, 1, TIMING_MAX, NULL, NULL},
    {"snapshot_entries", schema_parse_uint, offsetof(config_cluster, snapshot_entries), 4, 16, 1u << 30, NULL, NULL},
    {"route_max_filters", schema_parse_uint, offsetof(config_cluster, route_max_filters), 4, 1, 1u << 24, NULL, NULL},
    {"tls", schema_parse_section, 0, 0, 0, 0, tls_keys, check_tls},
    {"join", parse_bool, offsetof(config_cluster, join), 0, 0, 0, NULL, NULL},
    SCHEMA_END,
};

const config_cluster_member *config_cluster_member_find(const config_cluster *c, uint64_t id)
{
    for (uint32_t i = 0; i < c->n_members; i++)
        if (c->members[i].id == id) return &c->members[i];
    return NULL;
}

const config_cluster_member *config_cluster_self(const config_cluster *c)
{
    return config_cluster_member_find(c, c->node_id);
}

static bool same_member(const config_cluster_member *a, const config_cluster_member *b)
{
    return a && b && a->id == b->id && !strcmp(a->raft_address, b->raft_address) &&
           !strcmp(a->link_address, b->link_address);
}

unsigned config_cluster_reload(const config_cluster *run, config_cluster *next)
{
    /* Everything but the members, compared with the members set aside. */
    config_cluster a = *run, b = *next;
    a.n_members = b.n_members = 0;
    memset(a.members, 0, sizeof a.members);
    memset(b.members, 0, sizeof b.members);
    a.line = b.line = 0;
    b.join = a.join; /* only read at the first start */
    bool self_same = !run->enabled || same_member(config_cluster_self(run), config_cluster_self(next));
    if (memcmp(&a, &b, sizeof a) != 0 || !self_same) {
        log_warn("reload: cluster (enabled, name, node_id, this node's addresses, timing or tls) changed, needs a "
                 "restart; the running cluster settings are kept");
        *next = *run;
        return 1;
    }
    unsigned changed = 0;
    for (uint32_t i = 0; i < next->n_members; i++) {
        const config_cluster_member *m = &next->members[i], *was = config_cluster_member_find(run, m->id);
        if (same_member(was, m)) continue;
        log_info("reload: cluster member %llu (raft %s, link %s) %s", (unsigned long long)m->id, m->raft_address,
                 m->link_address, was ? "changed" : "added");
        changed++;
    }
    for (uint32_t i = 0; i < run->n_members; i++)
        if (!config_cluster_member_find(next, run->members[i].id)) {
            log_info("reload: cluster member %llu removed from the list", (unsigned long long)run->members[i].id);
            changed++;
        }
    next->join = run->join;
    return changed;
}

int config_cluster_parse(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    config_cluster *c = (config_cluster *)((char *)target + spec->offset);
    if (v->type != YAML_MAPPING_NODE) return schema_fail(sc, v, "%s: expected a mapping", path);
    config_cluster n;
    config_cluster_init(&n);
    if (schema_walk(sc, v, path, cluster_keys, &n) != 0) return -1;
    if (!n.node_id || !n.n_members) return schema_fail(sc, v, "%s: node_id and members are required", path);
    if (!config_cluster_self(&n))
        return schema_fail(sc, v, "%s.node_id: %llu is not the id of one of the members", path,
                           (unsigned long long)n.node_id);
    if (n.heartbeat_ms * 2 > n.election_timeout_ms)
        return schema_fail(sc, v, "%s: heartbeat_ms (%u) must be at most half of election_timeout_ms (%u)", path,
                           n.heartbeat_ms, n.election_timeout_ms);
    n.enabled = true;
    n.line = (unsigned)v->start_mark.line + 1;
    *c = n;
    return 0;
}
