/* The `cluster:` section (server/config_cluster.h, docs/cluster.md): a
 * good section with every key, the defaults, and each class of bad input
 * with the exact message (file, line, key) a user would see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "server/config.h"

static char err[512];

#define HEAD "persistence:\n  dir: /var/lib/mqstated\n"
#define MEMBERS                                                                 \
    "  members:\n"                                                              \
    "    - {id: 1, raft_address: 10.0.0.1:7000, link_address: 10.0.0.1:7001}\n" \
    "    - {id: 2, raft_address: 10.0.0.2:7000, link_address: 10.0.0.2:7001}\n" \
    "    - {id: 3, raft_address: node3.example:7000, link_address: node3.example:7001}\n"

static int load(config *c, const char *yaml)
{
    err[0] = '\0';
    return config_load_string(c, "t.yaml", yaml, strlen(yaml), err, sizeof err);
}

static void expect_error(const char *yaml, const char *want)
{
    config c;
    config_init(&c);
    assert_int_equal(load(&c, yaml), -1);
    assert_string_equal(err, want);
    assert_false(c.cluster.enabled); /* a bad file changes nothing */
    config_free(&c);
}

static void full_section(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    assert_false(c.cluster.enabled);
    int r = load(&c, HEAD "cluster:\n  name: prod-a\n  node_id: 2\n  election_timeout_ms: 2000\n  heartbeat_ms: 200\n"
                          "  request_wait_ms: 5000\n  snapshot_entries: 100000\n"
                          "  tls:\n    cert_file: /c.pem\n    key_file: /k.pem\n    ca_file: /ca.pem\n" MEMBERS);
    assert_int_equal(r, 0);
    const config_cluster *k = &c.cluster;
    assert_true(k->enabled);
    assert_string_equal(k->name, "prod-a");
    assert_int_equal(k->node_id, 2);
    assert_int_equal(k->n_members, 3);
    assert_int_equal(k->election_timeout_ms, 2000);
    assert_int_equal(k->heartbeat_ms, 200);
    assert_int_equal(k->request_wait_ms, 5000);
    assert_int_equal(k->snapshot_entries, 100000);
    assert_true(k->tls);
    assert_string_equal(k->ca_file, "/ca.pem");
    assert_string_equal(k->crl_file, "");
    assert_string_equal(k->members[2].raft_address, "node3.example:7000");
    const config_cluster_member *self = config_cluster_self(k);
    assert_non_null(self);
    assert_string_equal(self->link_address, "10.0.0.2:7001");
    config_free(&c);
}

static void defaults(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    assert_int_equal(load(&c, HEAD "cluster:\n  node_id: 1\n" MEMBERS), 0);
    assert_string_equal(c.cluster.name, "mqstate");
    assert_int_equal(c.cluster.election_timeout_ms, 500);
    assert_int_equal(c.cluster.heartbeat_ms, 50);
    assert_int_equal(c.cluster.request_wait_ms, 10000);
    assert_int_equal(c.cluster.snapshot_entries, 8192);
    assert_false(c.cluster.tls);
    config_free(&c);
}

static void errors(void **state)
{
    (void)state;
    expect_error("cluster:\n  node_id: 1\n" MEMBERS,
                 "t.yaml:2: cluster: needs persistence.dir (the node's raft log and snapshots live there)");
    expect_error(HEAD "cluster:\n  node_id: 1\n", "t.yaml:4: cluster: node_id and members are required");
    expect_error(HEAD "cluster:\n  node_id: 4\n" MEMBERS,
                 "t.yaml:4: cluster.node_id: 4 is not the id of one of the members");
    expect_error(HEAD "cluster: yes\n", "t.yaml:3: cluster: expected a mapping");
    expect_error(HEAD "cluster:\n  node_id: 1\n  members: []\n",
                 "t.yaml:5: cluster.members: expected a list of 1 to 16 members ({id, raft_address, link_address})");
    expect_error(HEAD "cluster:\n  node_id: 1\n  members:\n    - {id: 1, raft_address: a:1}\n",
                 "t.yaml:6: cluster.members[0]: id, raft_address and link_address are required");
    expect_error(HEAD "cluster:\n  node_id: 1\n  members:\n    - {id: 1, raft_address: a:1, link_address: a:2}\n"
                      "    - {id: 1, raft_address: b:1, link_address: b:2}\n",
                 "t.yaml:7: cluster.members[1].id: 1 is also members[0]");
    expect_error(HEAD "cluster:\n  node_id: 1\n  members:\n    - {id: 1, raft_address: a:1, link_address: a:2}\n"
                      "    - {id: 2, raft_address: a:2, link_address: b:2}\n",
                 "t.yaml:7: cluster.members[1]: an address of members[0] again (each address is one node's)");
    expect_error(HEAD "cluster:\n  node_id: 1\n  members:\n    - {id: 1, raft_address: a:1, link_address: a:1}\n",
                 "t.yaml:6: cluster.members[0]: raft_address and link_address must differ");
    expect_error(
        HEAD "cluster:\n  node_id: 1\n  members:\n    - {id: 1, raft_address: a, link_address: a:1}\n",
        "t.yaml:6: cluster.members[0].raft_address: expected host:port with a port from 1 to 65535, got \"a\"");
    expect_error(
        HEAD "cluster:\n  node_id: 1\n  members:\n    - {id: 1, raft_address: a:0, link_address: a:1}\n",
        "t.yaml:6: cluster.members[0].raft_address: expected host:port with a port from 1 to 65535, got \"a:0\"");
    expect_error(HEAD "cluster:\n  node_id: 1\n  heartbeat_ms: 300\n" MEMBERS,
                 "t.yaml:4: cluster: heartbeat_ms (300) must be at most half of election_timeout_ms (500)");
    expect_error(HEAD "cluster:\n  node_id: 1\n  tls:\n    cert_file: /c.pem\n" MEMBERS,
                 "t.yaml:6: cluster.tls: cert_file, key_file and ca_file are required (mutual authentication)");
    expect_error(HEAD "cluster:\n  name: a b\n  node_id: 1\n" MEMBERS,
                 "t.yaml:4: cluster.name: expected letters, digits, '.', '_' or '-', got \"a b\"");
    expect_error(HEAD "cluster:\n  node_id: 1\n  nodes: 3\n" MEMBERS, "t.yaml:5: unknown key \"cluster.nodes\"");
}

/* SIGHUP: members may change, the rest needs a restart (kept). */
static void reload(void **state)
{
    (void)state;
    config run, next;
    config_init(&run);
    config_init(&next);
    assert_int_equal(load(&run, HEAD "cluster:\n  node_id: 1\n  join: true\n" MEMBERS), 0);
    assert_true(run.cluster.join);
    /* A fourth member: applied. */
    assert_int_equal(load(&next, HEAD "cluster:\n  node_id: 1\n" MEMBERS
                                      "    - {id: 4, raft_address: 10.0.0.4:7000, link_address: 10.0.0.4:7001}\n"),
                     0);
    assert_int_equal(config_cluster_reload(&run.cluster, &next.cluster), 1);
    assert_int_equal(next.cluster.n_members, 4);
    assert_true(next.cluster.join); /* only read at the first start: the running value stays */
    /* Another node_id: needs a restart, the running section is kept. */
    config_free(&next);
    config_init(&next);
    assert_int_equal(load(&next, HEAD "cluster:\n  node_id: 2\n" MEMBERS), 0);
    assert_int_equal(config_cluster_reload(&run.cluster, &next.cluster), 1);
    assert_int_equal(next.cluster.node_id, 1);
    assert_int_equal(next.cluster.n_members, 3);
    /* This node's own address changed: restart. */
    config_free(&next);
    config_init(&next);
    assert_int_equal(load(&next, HEAD "cluster:\n  node_id: 1\n  members:\n"
                                      "    - {id: 1, raft_address: 10.0.0.9:7000, link_address: 10.0.0.1:7001}\n"),
                     0);
    assert_int_equal(config_cluster_reload(&run.cluster, &next.cluster), 1);
    assert_string_equal(next.cluster.members[0].raft_address, "10.0.0.1:7000");
    /* Nothing changed. */
    config_free(&next);
    config_init(&next);
    assert_int_equal(load(&next, HEAD "cluster:\n  node_id: 1\n" MEMBERS), 0);
    assert_int_equal(config_cluster_reload(&run.cluster, &next.cluster), 0);
    config_free(&next);
    config_free(&run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_section),
        cmocka_unit_test(defaults),
        cmocka_unit_test(errors),
        cmocka_unit_test(reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
