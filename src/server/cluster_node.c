/* This process as a cluster member (see cluster_node.h). */
#include "server/cluster_node.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/peer.h"
#include "ops/gauges.h"
#include "ops/ready.h"
#include "cluster/raft_tls.h"
#include "repl/file_log.h"
#include "repl/raft_log.h"
#include "server/cluster_read.h"
#include "server/store_log.h"
#include "store/record.h"
#include "store/snapshot.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/le.h"
#include "util/log.h"

struct cluster_node {
    uv_loop_t *loop;
    config_cluster cfg;
    char *dir, *raft_dir;
    int lock_fd;
    peer_net *net;
    repl_log *log;      /* the raft log (NULL until cluster_node_log) */
    cluster_read *read; /* read index rounds (with the log) */
    raft_tls *rtls;     /* raft's TLS transport (with cluster.tls); closed after the log */
    store_service *svc;
    store_bridge *sb;
    /* The role as last reported, replayed at attach. */
    bool is_leader;
    uint64_t leader_id;
    buf frame;               /* scratch: id + wire bytes */
    struct ops_ready *ready; /* cluster_node_metrics: "leader_known" */
    int ready_id;
    /* The bridge's log callbacks (raft has one context for all). */
    repl_commit_fn on_commit;
    repl_fail_fn on_fail;
    void *log_ctx;
    int closing;      /* asynchronous closes still running */
    uv_timer_t watch; /* once a second: is this node still in raft's configuration? */
    bool watch_open, removed;
    /* cluster_node_leave: the timer waits for the bridge to go idle. */
    uv_timer_t leave_timer;
    bool leave_timer_open;
    uint64_t leave_deadline;
    void (*leave_cb)(void *ctx);
    void *leave_ctx;
    cluster_link_user users[CLUSTER_LINK_USERS_MAX]; /* cluster_node_add_link_user */
    unsigned n_users;
    struct {
        cluster_status_fn fn;
        void *ctx;
    } status[CLUSTER_STATUS_USERS_MAX]; /* cluster_node_add_status */
    unsigned n_status;
    cluster_records_hooks records; /* cluster_node_set_records; on_commit NULL: none */
};

/* --- node links ---------------------------------------------------------------- */

static void node_removed(cluster_node *cn, const char *how)
{
    if (cn->removed) return;
    cn->removed = true;
    log_warn("cluster: this node (%" PRIu64 ") was removed from the cluster (%s); it refuses state store requests",
             cn->cfg.node_id, how);
    if (cn->sb) store_bridge_cluster_removed(cn->sb);
}

static void on_frame(void *ctx, uint64_t from, uint8_t type, const uint8_t *p, size_t n)
{
    cluster_node *cn = ctx;
    if (type == CLUSTER_FRAME_REMOVED) {
        if (from == cn->leader_id) node_removed(cn, "told by the leader");
        else log_warn("cluster: node %" PRIu64 ", not the leader, says this node was removed; ignored", from);
        return;
    }
    for (unsigned i = 0; i < cn->n_users; i++) {
        const cluster_link_user *u = &cn->users[i];
        if (type >= u->first && type <= u->last) {
            u->on_frame(u->ctx, from, type, p, n);
            return;
        }
    }
    if (!cn->sb || n < 8 || (type != CLUSTER_FRAME_FORWARD && type != CLUSTER_FRAME_ANSWER)) {
        log_warn("cluster: node %" PRIu64 " sent an unexpected frame (type %u, %zu bytes); ignored", from, type, n);
        return;
    }
    le_reader r = le_reader_of(p, n);
    uint64_t id = le_get_u64(&r);
    if (type == CLUSTER_FRAME_FORWARD) store_bridge_cluster_request(cn->sb, from, id, r.p, r.n);
    else store_bridge_cluster_answer(cn->sb, from, id, r.p, r.n);
}

/* The links log their ups and downs themselves; a lost answer is sent
 * again by its origin. Other users may need to know (a full state to send
 * on a new link, wills of a node that cannot be reached). */
static void on_peer(void *ctx, uint64_t id, bool up)
{
    cluster_node *cn = ctx;
    for (unsigned i = 0; i < cn->n_users; i++)
        if (cn->users[i].on_peer) cn->users[i].on_peer(cn->users[i].ctx, id, up);
}

void cluster_node_add_link_user(cluster_node *cn, const cluster_link_user *u)
{
    assert(cn->n_users < CLUSTER_LINK_USERS_MAX && u->on_frame && u->first <= u->last);
    assert(u->first > CLUSTER_FRAME_REMOVED);  /* the bridge's own types are not for others */
    for (unsigned i = 0; i < cn->n_users; i++) /* ranges never overlap */
        assert(u->last < cn->users[i].first || u->first > cn->users[i].last);
    cn->users[cn->n_users++] = *u;
}

void cluster_node_add_status(cluster_node *cn, cluster_status_fn fn, void *ctx)
{
    assert(cn->n_status < CLUSTER_STATUS_USERS_MAX && fn);
    cn->status[cn->n_status].fn = fn;
    cn->status[cn->n_status++].ctx = ctx;
}

static void status_users(cluster_node *cn, uint64_t id, buf *out)
{
    for (unsigned i = 0; i < cn->n_status; i++) cn->status[i].fn(cn->status[i].ctx, id, out);
}

struct peer_net *cluster_node_links(cluster_node *cn) { return cn->net; }
uint64_t cluster_node_self(const cluster_node *cn) { return cn->cfg.node_id; }
uint64_t cluster_node_leader(const cluster_node *cn) { return cn->leader_id; }
bool cluster_node_is_leader(const cluster_node *cn) { return cn->is_leader; }

size_t cluster_node_peers(const cluster_node *cn, uint64_t *ids, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < cn->cfg.n_members; i++) {
        if (cn->cfg.members[i].id == cn->cfg.node_id) continue;
        if (n < cap) ids[n] = cn->cfg.members[i].id;
        n++;
    }
    return n;
}

static int send_frame(cluster_node *cn, uint64_t to, uint8_t type, uint64_t id, const uint8_t *p, size_t n)
{
    if (!cn->net) return PEER_EDOWN;
    cn->frame.len = 0;
    buf_append_u64le(&cn->frame, id);
    buf_append(&cn->frame, p, n);
    buf_shrink(&cn->frame, 65536);
    return peer_net_send(cn->net, to, type, cn->frame.data, cn->frame.len);
}

static bool op_forward(void *ctx, uint64_t to, uint64_t id, const uint8_t *req, size_t len)
{
    return send_frame(ctx, to, CLUSTER_FRAME_FORWARD, id, req, len) == PEER_OK;
}

static void op_answer(void *ctx, uint64_t to, uint64_t id, const uint8_t *rep, size_t len)
{
    int rc = send_frame(ctx, to, CLUSTER_FRAME_ANSWER, id, rep, len);
    if (rc != PEER_OK) /* the origin sends the request again */
        log_debug("cluster: answer %" PRIu64 " to node %" PRIu64 " not sent: %s", id, to, peer_strerror(rc));
}

/* A membership change in flight: the bridge's completion, and after a
 * removal the REMOVED frame to the node. */
typedef struct member_op {
    cluster_node *cn;
    uint64_t id;
    store_bridge_done_fn cb;
    void *cbctx;
} member_op;

static void removed_done(void *ctx, int status)
{
    member_op *m = ctx;
    if (status == 0 && m->cn->net) {
        log_info("cluster: node %" PRIu64 " removed", m->id);
        static const uint8_t none;
        peer_net_send(m->cn->net, m->id, CLUSTER_FRAME_REMOVED, &none, 0);
    }
    m->cb(m->cbctx, status);
    free(m);
}

static int op_member(void *ctx, bool add, uint64_t id, store_bridge_done_fn cb, void *cbctx)
{
    cluster_node *cn = ctx;
    if (!cn->log) return REPL_RAFT_ESHUTDOWN;
    if (!add) {
        member_op *m = xmalloc(sizeof *m);
        *m = (member_op){cn, id, cb, cbctx};
        int rc = repl_raft_remove(cn->log, id, removed_done, m);
        if (rc) free(m);
        return rc;
    }
    const config_cluster_member *m = config_cluster_member_find(&cn->cfg, id);
    if (!m) return -1;
    log_info("cluster: adding node %" PRIu64 " (%s)", id, m->raft_address);
    return repl_raft_add(cn->log, id, m->raft_address, cb, cbctx);
}

/* A node removed from raft's configuration refuses its clients' requests
 * (it may not learn of its removal: then it never finds a leader, and its
 * requests time out with "no leader"). */
static void watch_tick(uv_timer_t *t)
{
    cluster_node *cn = t->data;
    if (!cn->log || !cn->sb || cn->removed) return;
    repl_raft_status st;
    repl_raft_status_get(cn->log, &st);
    if (st.n_members == 0) return; /* a joining node before it is added */
    for (size_t i = 0; i < st.n_members; i++)
        if (st.members[i].id == cn->cfg.node_id) return;
    node_removed(cn, "not in raft's configuration");
}

static int op_read_index(void *ctx, store_bridge_done_fn cb, void *cbctx)
{
    cluster_node *cn = ctx;
    if (!cn->read) return REPL_RAFT_ESHUTDOWN;
    return cluster_read_index(cn->read, cb, cbctx);
}

static int op_barrier(void *ctx, store_bridge_done_fn cb, void *cbctx)
{
    cluster_node *cn = ctx;
    return cn->log ? repl_raft_barrier(cn->log, cb, cbctx) : REPL_RAFT_ESHUTDOWN;
}

static void json_add(buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void json_add(buf *out, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) buf_append(out, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static const char *state_name(int s)
{
    switch (s) {
    case REPL_RAFT_FOLLOWER: return "follower";
    case REPL_RAFT_CANDIDATE: return "candidate";
    case REPL_RAFT_LEADER: return "leader";
    default: return "unavailable";
    }
}

static const char *role_name(int r)
{
    return r == REPL_RAFT_VOTER ? "voter" : r == REPL_RAFT_STANDBY ? "standby" : "spare";
}

/* CLUSTER STATUS: one JSON object (docs/cluster.md, "Operations").
 * Addresses come from the configuration and raft (host:port: no quoting
 * needed beyond what the config parser allows; '"' and '\\' cannot
 * appear in a host name or IP literal, and the name is checked too). */
static void op_status(void *ctx, bool digest, buf *out)
{
    cluster_node *cn = ctx;
    repl_raft_status st;
    memset(&st, 0, sizeof st);
    if (cn->log) repl_raft_status_get(cn->log, &st);
    json_add(out, "{\"cluster\":\"%s\",\"node\":%" PRIu64 ",\"state\":\"%s\",\"term\":%" PRIu64, cn->cfg.name,
             cn->cfg.node_id, state_name(st.state), st.term);
    json_add(out, ",\"leader\":%" PRIu64 ",\"leader_address\":\"%s\"", st.leader_id, st.leader_address);
    json_add(out,
             ",\"last_index\":%" PRIu64 ",\"commit_index\":%" PRIu64 ",\"last_applied\":%" PRIu64
             ",\"snapshot_index\":%" PRIu64,
             st.last_index, st.commit_index, st.last_applied, st.snapshot_index);
    buf_append(out, ",\"members\":[", 12);
    for (size_t i = 0; i < st.n_members; i++) {
        const repl_raft_member_status *m = &st.members[i];
        bool self = m->id == cn->cfg.node_id;
        const char *link = self ? "self" : cn->net && peer_net_up(cn->net, m->id) ? "up" : "down";
        json_add(out, "%s{\"id\":%" PRIu64 ",\"address\":\"%s\",\"role\":\"%s\",\"link\":\"%s\"", i ? "," : "", m->id,
                 m->address, role_name(m->role), link);
        if (st.state == REPL_RAFT_LEADER)
            json_add(out, ",\"match_index\":%" PRIu64 ",\"lag\":%" PRIu64, m->match_index,
                     st.last_index > m->match_index ? st.last_index - m->match_index : 0);
        status_users(cn, m->id, out);
        buf_append(out, "}", 1);
    }
    buf_append(out, "]", 1);
    if (digest && cn->svc) {
        size_t keys;
        uint64_t d = store_service_digest(cn->svc, &keys);
        json_add(out, ",\"keys\":%zu,\"digest\":\"%016" PRIx64 "\"", keys, d);
    }
    status_users(cn, 0, out);
    buf_append(out, "}", 1);
}

/* --- metrics ----------------------------------------------------------------------- */

static repl_raft_status status_now(const cluster_node *cn)
{
    repl_raft_status st;
    memset(&st, 0, sizeof st);
    if (cn->log) repl_raft_status_get(cn->log, &st);
    return st;
}

static double g_term(void *ctx) { return (double)status_now(ctx).term; }
static double g_commit(void *ctx) { return (double)status_now(ctx).commit_index; }
static double g_applied(void *ctx) { return (double)status_now(ctx).last_applied; }
static double g_last(void *ctx) { return (double)status_now(ctx).last_index; }
static double g_snapshot(void *ctx) { return (double)status_now(ctx).snapshot_index; }
static double g_leader(void *ctx) { return (double)status_now(ctx).leader_id; }
static double g_is_leader(void *ctx) { return status_now(ctx).state == REPL_RAFT_LEADER ? 1 : 0; }
static double g_members(void *ctx) { return (double)status_now(ctx).n_members; }
static double g_links_up(void *ctx)
{
    const cluster_node *cn = ctx;
    double n = 0;
    for (uint32_t i = 0; cn->net && i < cn->cfg.n_members; i++)
        if (cn->cfg.members[i].id != cn->cfg.node_id && peer_net_up(cn->net, cn->cfg.members[i].id)) n++;
    return n;
}

static double g_reads(const cluster_node *cn, bool confirmed)
{
    uint64_t ok = 0, failed = 0;
    if (cn->read) cluster_read_counts(cn->read, &ok, &failed);
    return (double)(confirmed ? ok : failed);
}
static double g_reads_ok(void *ctx) { return g_reads(ctx, true); }
static double g_reads_failed(void *ctx) { return g_reads(ctx, false); }

void cluster_node_metrics(cluster_node *cn, struct ops_gauges *g, struct ops_ready *r)
{
    static const struct {
        const char *name, *help;
        ops_gauge_fn fn;
    } gauges[] = {
        {"mqstated_raft_term", "Raft term this node is in.", g_term},
        {"mqstated_raft_commit_index", "Highest raft log index known to be committed.", g_commit},
        {"mqstated_raft_applied_index", "Highest raft log index applied to the state store here.", g_applied},
        {"mqstated_raft_last_index", "Highest raft log index this node holds.", g_last},
        {"mqstated_raft_snapshot_index", "Index of the last raft snapshot taken or installed (0: none).", g_snapshot},
        {"mqstated_raft_leader_id", "Node id of the known leader (0: none known).", g_leader},
        {"mqstated_raft_is_leader", "1 while this node is the raft leader.", g_is_leader},
        {"mqstated_raft_members", "Members in the raft configuration.", g_members},
        {"mqstated_cluster_links_up", "Node links to other members that are up.", g_links_up},
        {"mqstated_raft_read_rounds_confirmed", "Read index rounds a majority confirmed (leader; since start).",
         g_reads_ok},
        {"mqstated_raft_read_rounds_failed", "Read index rounds that failed (leader; since start).", g_reads_failed},
    };
    for (size_t i = 0; i < sizeof gauges / sizeof *gauges; i++)
        ops_gauges_add(g, gauges[i].name, gauges[i].help, gauges[i].fn, cn);
    cn->ready = r;
    cn->ready_id = ops_ready_add(r, "leader_known");
    ops_ready_set(r, cn->ready_id, cn->leader_id != 0);
}

/* --- raft callbacks ------------------------------------------------------------- */

typedef struct snap_job {
    int fd;
    pid_t pid;
} snap_job;

/* Entries are the store bridge's but those marked as the broker's records. */
static void node_commit(void *ctx, uint64_t index, const uint8_t *rec, size_t len, uint64_t tag)
{
    cluster_node *cn = ctx;
    if (cn->records.on_commit && len && rec[0] == cn->records.marker)
        cn->records.on_commit(cn->records.ctx, index, rec, len, tag);
    else cn->on_commit(cn->log_ctx, index, rec, len, tag);
}

static void node_fail(void *ctx, uint64_t tag, const char *why)
{
    cluster_node *cn = ctx;
    if (tag & CLUSTER_NODE_TAG_RECORDS) {
        if (cn->records.on_fail) cn->records.on_fail(cn->records.ctx, tag, why);
        return;
    }
    cn->on_fail(cn->log_ctx, tag, why);
}

void cluster_node_set_records(cluster_node *cn, const cluster_records_hooks *h)
{
    assert(!cn->records.on_commit && !cn->log && h->on_commit && h->marker != STORE_RECORD_FORMAT);
    cn->records = *h;
}

bool cluster_node_propose(cluster_node *cn, const uint8_t *p, size_t n, uint64_t tag)
{
    assert(tag & CLUSTER_NODE_TAG_RECORDS);
    return cn->log && cn->is_leader && repl_log_propose(cn->log, p, n, tag);
}

int cluster_node_barrier(cluster_node *cn, void (*cb)(void *ctx, int status), void *ctx)
{
    return cn->log ? repl_raft_barrier(cn->log, cb, ctx) : REPL_RAFT_ESHUTDOWN;
}

static bool sink_fd(void *ctx, const void *p, size_t n)
{
    int fd = *(int *)ctx;
    for (const uint8_t *b = p; n;) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

/* Fork: the child writes the snapshot into a pipe (copy-on-write: the
 * loop goes on); snapshot_async reads it back on a worker thread. */
static int on_snapshot(void *ctx, repl_raft_snapshot_out *out)
{
    cluster_node *cn = ctx;
    int p[2];
    if (pipe(p) != 0) {
        log_error("cluster: snapshot: pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        log_error("cluster: snapshot: fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) { /* the child: no libuv, no allocation, no logging */
        close(p[0]);
        bool ok = store_snapshot_write_ext(cn->svc, 0, cn->records.locals, cn->records.ctx, sink_fd, &p[1]);
        _exit(ok && close(p[1]) == 0 ? 0 : 1);
    }
    close(p[1]);
    snap_job *j = xmalloc(sizeof *j);
    j->fd = p[0];
    j->pid = pid;
    out->job = j;
    return 0;
}

static int on_snapshot_async(void *ctx, repl_raft_snapshot_out *out)
{
    (void)ctx;
    snap_job *j = out->job;
    size_t cap = 1 << 20, len = 0;
    uint8_t *data = xmalloc(cap);
    for (;;) {
        if (len == cap) data = xrealloc(data, cap *= 2);
        ssize_t n = read(j->fd, data + len, cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(j->fd);
    int status = 0;
    while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR) {}
    free(j);
    out->job = NULL;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(data);
        return -1;
    }
    out->data = data;
    out->len = len;
    return 0;
}

static bool on_restore(void *ctx, const uint8_t *data, size_t len)
{
    cluster_node *cn = ctx;
    char err[256];
    uint64_t index;
    store_install r = store_service_install_snapshot_ext(cn->svc, data, len, &index, cn->records.local, cn->records.ctx,
                                                         err, sizeof err);
    if (cn->records.installed && r != STORE_INSTALL_BROKEN)
        cn->records.installed(cn->records.ctx, r == STORE_INSTALL_OK);
    if (r == STORE_INSTALL_OK) {
        log_info("cluster: state store snapshot installed (%zu bytes)", len);
        return true;
    }
    if (r == STORE_INSTALL_REFUSED) {
        log_error("cluster: a state store snapshot is damaged (%s); not installed", err);
        return false;
    }
    /* The state machine is gone and raft cannot know: stop; a restart
     * rebuilds it from this node's own raft directory. */
    log_error("cluster: a verified state store snapshot did not load (%s): the store's state is lost; stopping", err);
    abort();
}

static void on_role(void *ctx, bool is_leader, uint64_t leader_id, const char *address)
{
    cluster_node *cn = ctx;
    if (is_leader != cn->is_leader || leader_id != cn->leader_id) {
        if (leader_id)
            log_info("cluster: node %" PRIu64 " (%s) leads%s", leader_id, address, is_leader ? " (this node)" : "");
        else log_info("cluster: no leader known");
    }
    cn->is_leader = is_leader;
    cn->leader_id = leader_id;
    if (cn->ready) ops_ready_set(cn->ready, cn->ready_id, leader_id != 0);
    if (cn->sb) store_bridge_cluster_role(cn->sb, is_leader, leader_id);
    if (cn->records.on_role) cn->records.on_role(cn->records.ctx, is_leader, leader_id);
}

/* --- life cycle ------------------------------------------------------------------ */

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool make_dir(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST) return true;
    snprintf(err, errlen, "persistence.dir: cannot create %s: %s", path, strerror(errno));
    return false;
}

static bool links_open(cluster_node *cn, char *err, size_t errlen)
{
    const config_cluster *c = &cn->cfg;
    peer_member members[CONFIG_CLUSTER_MEMBERS_MAX];
    for (uint32_t i = 0; i < c->n_members; i++)
        members[i] = (peer_member){c->members[i].id, c->members[i].link_address};
    peer_tls tls = {c->cert_file, c->key_file, c->ca_file, c->crl_file[0] ? c->crl_file : NULL};
    peer_net_config pc = {
        .cluster_name = c->name,
        .self_id = c->node_id,
        .listen_address = config_cluster_self(c)->link_address,
        .members = members,
        .n_members = c->n_members,
        .tls = c->tls ? &tls : NULL,
        .cb = {on_frame, on_peer},
        .ctx = cn,
    };
    char perr[256];
    cn->net = peer_net_new(cn->loop, &pc, perr, sizeof perr);
    if (!cn->net) snprintf(err, errlen, "cluster: node links: %s", perr);
    return cn->net != NULL;
}

cluster_node *cluster_node_new(uv_loop_t *loop, const config_cluster *cfg, const char *dir, char *err, size_t errlen)
{
    if (!make_dir(dir, err, errlen)) return NULL;
    char *lock_path = path_join(dir, REPL_FILE_LOCK_NAME);
    int fd = store_log_lock(dir, lock_path, err, errlen);
    free(lock_path);
    if (fd < 0) return NULL;
    cluster_node *cn = xcalloc(1, sizeof *cn);
    cn->loop = loop;
    cn->cfg = *cfg;
    cn->lock_fd = fd;
    cn->dir = xstrdup(dir);
    cn->raft_dir = path_join(dir, "raft");
    if (!make_dir(cn->raft_dir, err, errlen) || !links_open(cn, err, errlen)) {
        cluster_node_free(cn);
        return NULL;
    }
    if (!cfg->tls)
        log_warn("cluster: node links and raft without TLS (cluster.tls): anyone who reaches %s or %s can act as a "
                 "member",
                 config_cluster_self(cfg)->link_address, config_cluster_self(cfg)->raft_address);
    return cn;
}

repl_log *cluster_node_log(void *arg, store_service *svc, repl_commit_fn on_commit, repl_fail_fn on_fail, void *ctx)
{
    cluster_node *cn = arg;
    const config_cluster *c = &cn->cfg;
    repl_raft_member members[CONFIG_CLUSTER_MEMBERS_MAX];
    for (uint32_t i = 0; i < c->n_members; i++)
        members[i] = (repl_raft_member){c->members[i].id, c->members[i].raft_address};
    cn->svc = svc;
    cn->on_commit = on_commit;
    cn->on_fail = on_fail;
    cn->log_ctx = ctx;
    repl_raft_config rc = {
        .id = c->node_id,
        .address = config_cluster_self(c)->raft_address,
        .members = members,
        .n_members = c->join ? 0 : c->n_members, /* a joining node bootstraps nothing of its own */
        .dir = cn->raft_dir,
        .election_timeout_ms = c->election_timeout_ms,
        .heartbeat_ms = c->heartbeat_ms,
        .snapshot_threshold = c->snapshot_entries,
        .snapshot_trailing = c->snapshot_entries,
        .on_commit = node_commit,
        .on_fail = node_fail,
        .ctx = cn,
        .snapshot = on_snapshot,
        .snapshot_async = on_snapshot_async,
        .restore = on_restore,
        .on_role = on_role,
    };
    char err[512];
    if (c->tls) {
        raft_tls_member tm[CONFIG_CLUSTER_MEMBERS_MAX];
        for (uint32_t i = 0; i < c->n_members; i++) tm[i] = (raft_tls_member){members[i].id, members[i].address};
        peer_tls tls = {c->cert_file, c->key_file, c->ca_file, c->crl_file[0] ? c->crl_file : NULL};
        raft_tls_config tc = {
            .cluster_name = c->name, .self_id = c->node_id, .members = tm, .n_members = c->n_members, .tls = &tls};
        cn->rtls = raft_tls_new(cn->loop, &tc, err, sizeof err);
        if (!cn->rtls) {
            log_error("cluster: %s", err);
            return NULL;
        }
        rc.transport = raft_tls_transport(cn->rtls);
    }
    cn->log = repl_raft_new(cn->loop, &rc, err, sizeof err);
    if (!cn->log) {
        log_error("cluster: raft: %s", err);
        return NULL;
    }
    cn->read = cluster_read_new(cn->loop, cn->log, cn->net, c->node_id, CLUSTER_FRAME_READ_PING, CLUSTER_FRAME_READ_ACK,
                                c->election_timeout_ms);
    cluster_node_add_link_user(
        cn, &(cluster_link_user){CLUSTER_FRAME_READ_PING, CLUSTER_FRAME_READ_ACK, cluster_read_frame, NULL, cn->read});
    return cn->log;
}

void cluster_node_attach(cluster_node *cn, store_bridge *sb)
{
    cn->sb = sb;
    store_bridge_cluster_ops ops = {
        .forward = op_forward,
        .answer = op_answer,
        .barrier = op_barrier,
        .read_index = op_read_index,
        .status = op_status,
        .member = op_member,
        .strerror = repl_raft_strerror,
        .ctx = cn,
        .wait_ms = cn->cfg.request_wait_ms,
    };
    store_bridge_set_cluster(sb, &ops);
    if (cn->log) { /* what this node's log holds now was applied, and notified, by its previous run */
        repl_raft_status st;
        repl_raft_status_get(cn->log, &st);
        store_bridge_cluster_replay_until(sb, st.last_index);
    }
    store_bridge_cluster_role(sb, cn->is_leader, cn->leader_id);
    uv_timer_init(cn->loop, &cn->watch);
    cn->watch.data = cn;
    cn->watch_open = true;
    uv_timer_start(&cn->watch, watch_tick, 1000, 1000);
}

void cluster_node_reload(cluster_node *cn, const config_cluster *cfg)
{
    const config_cluster *old = &cn->cfg;
    for (uint32_t i = 0; cn->net && i < old->n_members; i++) {
        const config_cluster_member *m = &old->members[i], *n = config_cluster_member_find(cfg, m->id);
        if (m->id == old->node_id) continue;
        if (!n || strcmp(n->link_address, m->link_address) != 0) peer_net_remove(cn->net, m->id);
        if (cn->rtls && (!n || strcmp(n->raft_address, m->raft_address) != 0)) raft_tls_remove(cn->rtls, m->id);
    }
    for (uint32_t i = 0; cn->net && i < cfg->n_members; i++) {
        const config_cluster_member *m = &cfg->members[i], *o = config_cluster_member_find(old, m->id);
        if (m->id == cfg->node_id) continue;
        if (!o || strcmp(o->link_address, m->link_address) != 0) peer_net_add(cn->net, m->id, m->link_address);
        /* raft over TLS accepts members only: before the leader's ADD dials it */
        if (cn->rtls && (!o || strcmp(o->raft_address, m->raft_address) != 0))
            raft_tls_add(cn->rtls, m->id, m->raft_address);
    }
    cn->cfg = *cfg;
}

/* --- leaving (SIGTERM) ----------------------------------------------------------- */

static void leave_done(cluster_node *cn)
{
    uv_timer_stop(&cn->leave_timer);
    void (*cb)(void *) = cn->leave_cb;
    cn->leave_cb = NULL;
    if (cb) cb(cn->leave_ctx);
}

static void leave_poll(uv_timer_t *t)
{
    cluster_node *cn = t->data;
    if (cn->sb && store_bridge_cluster_busy(cn->sb) && uv_now(cn->loop) < cn->leave_deadline) return;
    if (cn->sb && store_bridge_cluster_busy(cn->sb))
        log_warn("cluster: requests still unanswered after %d ms; stopping anyway", CLUSTER_LEAVE_DRAIN_MS);
    leave_done(cn);
}

static void leave_drain(cluster_node *cn)
{
    cn->leave_deadline = uv_now(cn->loop) + CLUSTER_LEAVE_DRAIN_MS;
    uv_timer_start(&cn->leave_timer, leave_poll, 0, 20);
}

static void transferred(void *ctx, int status)
{
    cluster_node *cn = ctx;
    if (status == REPL_RAFT_OK) log_info("cluster: leadership handed over before stopping");
    else log_warn("cluster: leadership transfer before stopping failed (%s)", repl_raft_strerror(status));
    if (cn->leave_cb) leave_drain(cn);
}

void cluster_node_leave(cluster_node *cn, void (*cb)(void *ctx), void *ctx)
{
    cn->leave_cb = cb;
    cn->leave_ctx = ctx;
    if (!cn->leave_timer_open) {
        uv_timer_init(cn->loop, &cn->leave_timer);
        cn->leave_timer.data = cn;
        cn->leave_timer_open = true;
    }
    repl_raft_status st;
    if (cn->log) repl_raft_status_get(cn->log, &st);
    if (cn->log && st.state == REPL_RAFT_LEADER && cn->cfg.n_members > 1) {
        int rc = repl_raft_transfer(cn->log, 0, transferred, cn);
        if (rc == REPL_RAFT_OK) {
            log_info("cluster: handing leadership over before stopping");
            return;
        }
        log_warn("cluster: cannot hand leadership over before stopping (%s)", repl_raft_strerror(rc));
    }
    leave_drain(cn);
}

static void on_closed(void *ctx)
{
    cluster_node *cn = ctx;
    cn->closing--;
}

/* The raft log is closed: now its transport (raft_tls.h). */
static void on_log_closed(void *ctx)
{
    cluster_node *cn = ctx;
    raft_tls *t = cn->rtls;
    cn->rtls = NULL;
    if (t) raft_tls_close(t, on_closed, cn); /* the same close still counted */
    else cn->closing--;
}

static void on_timer_closed(uv_handle_t *h)
{
    cluster_node *cn = h->data;
    cn->closing--;
}

void cluster_node_close(cluster_node *cn)
{
    if (!cn) return;
    cn->leave_cb = NULL;
    if (cn->watch_open) {
        cn->watch_open = false;
        cn->closing++;
        uv_close((uv_handle_t *)&cn->watch, on_timer_closed);
    }
    if (cn->leave_timer_open) {
        cn->leave_timer_open = false;
        cn->closing++;
        uv_close((uv_handle_t *)&cn->leave_timer, on_timer_closed);
    }
    if (cn->read) { /* before the log it reads from */
        cn->closing++;
        cluster_read_close(cn->read, on_closed, cn);
        cn->read = NULL;
    }
    if (cn->log || cn->rtls) {
        cn->closing++;
        if (cn->log) repl_raft_close(cn->log, on_log_closed, cn);
        else on_log_closed(cn); /* the raft log failed to start */
        cn->log = NULL;
    }
    if (cn->net) {
        cn->closing++;
        peer_net_close(cn->net, on_closed, cn);
        cn->net = NULL;
    }
    cn->sb = NULL;
}

void cluster_node_free(cluster_node *cn)
{
    if (!cn) return;
    if (cn->log || cn->rtls || cn->net || cn->closing) log_warn("cluster_node_free: not closed (loop not run?)");
    if (cn->lock_fd >= 0) close(cn->lock_fd);
    free(cn->dir);
    free(cn->raft_dir);
    buf_free(&cn->frame);
    free(cn);
}
