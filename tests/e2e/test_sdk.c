/* libmqstate end to end: every state store call, sync and async, against
 * the real mqstated; observation; SCAN; observation across a broker
 * restart (re-registration + synthetic notification). */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sdk_support.h"

#define ONLY "state store"
#define K(s) s, strlen(s)

static void crud_sync(void)
{
    mqs_client *c = sdk_connect("crud");
    CHECK(c);
    mqs_result r;
    CHECK_INT(mqs_set(c, K("k1"), K("v1"), NULL, &r), MQS_OK);
    CHECK(r.applied && r.has_version);
    mqs_hlc v1 = r.version;
    mqs_result_clear(&r);
    CHECK_INT(mqs_get(c, K("k1"), &r), MQS_OK);
    CHECK(r.found && r.has_version && r.value.len == 2 && !memcmp(r.value.data, "v1", 2));
    CHECK_INT(mqs_hlc_compare(&r.version, &v1), 0);
    mqs_result_clear(&r);
    mqs_set_opts nx = {.cond = MQS_SET_NX};
    CHECK_INT(mqs_set(c, K("k1"), K("v2"), &nx, &r), MQS_OK);
    CHECK(!r.applied && r.has_version);
    mqs_result_clear(&r);
    mqs_set_opts nex = {.cond = MQS_SET_NEX, .px_ms = 60000};
    CHECK_INT(mqs_set(c, K("k1"), K("v1"), &nex, &r), MQS_OK);
    CHECK(r.applied && mqs_hlc_compare(&r.version, &v1) > 0);
    mqs_result_clear(&r);
    CHECK_INT(mqs_del(c, K("k1"), NULL, &r), MQS_OK);
    CHECK_INT(r.count, 1);
    CHECK_INT(mqs_del(c, K("k1"), NULL, &r), MQS_OK);
    CHECK_INT(r.count, 0);
    CHECK_INT(mqs_get(c, K("k1"), &r), MQS_OK);
    CHECK(!r.found && !r.has_version);
    CHECK_INT(mqs_set(c, K("k2"), "", 0, NULL, &r), MQS_OK); /* empty value */
    CHECK_INT(mqs_get(c, K("k2"), &r), MQS_OK);
    CHECK(r.found && r.value.len == 0 && r.has_version);
    mqs_result_clear(&r);
    CHECK_INT(mqs_vdel(c, K("k2"), K("x"), NULL, &r), MQS_OK);
    CHECK_INT(r.count, -1);
    CHECK_INT(mqs_vdel(c, K("k2"), "", 0, NULL, &r), MQS_OK);
    CHECK_INT(r.count, 1);
    CHECK_INT(mqs_vdel(c, K("k2"), "", 0, NULL, &r), MQS_OK);
    CHECK_INT(r.count, 0);
    CHECK_INT(mqs_get(c, "", 0, &r), MQS_ERR_INVALID);
    /* expiry */
    mqs_set_opts px = {.px_ms = 200};
    CHECK_INT(mqs_set(c, K("k3"), K("v"), &px, &r), MQS_OK);
    e2e_sleep_ms(600);
    CHECK_INT(mqs_get(c, K("k3"), &r), MQS_OK);
    CHECK(!r.found);
    /* fencing: a typed error with its text */
    mqs_hlc ft;
    CHECK_INT(mqs_hlc_now(&ft), MQS_OK);
    mqs_set_opts fenced = {.fencing_token = &ft, .persist = true};
    CHECK_INT(mqs_set(c, K("fk"), K("v"), &fenced, &r), MQS_OK);
    CHECK_INT(mqs_set(c, K("fk"), K("w"), NULL, &r), MQS_ERR_FENCING_REQUIRED);
    CHECK_STR(r.error_text, "a fencing token is required for this request");
    mqs_result_clear(&r);
    mqs_hlc old = ft;
    old.wall_ms -= 1000;
    mqs_del_opts lower = {.fencing_token = &old};
    CHECK_INT(mqs_del(c, K("fk"), &lower, &r), MQS_ERR_FENCING_LOWER);
    mqs_result_clear(&r);
    mqs_del_opts same = {.fencing_token = &ft};
    CHECK_INT(mqs_del(c, K("fk"), &same, &r), MQS_OK);
    CHECK_INT(r.count, 1);
    mqs_client_destroy(c);
}

struct async_state {
    pthread_mutex_t mu;
    volatile int done;
    mqs_result last[8];
};

static void async_cb(mqs_client *c, const mqs_result *r, void *ud)
{
    struct async_state *s = ud;
    pthread_mutex_lock(&s->mu);
    mqs_result *slot = &s->last[s->done % 8];
    *slot = (mqs_result){.err = r->err,
                         .applied = r->applied,
                         .found = r->found,
                         .count = r->count,
                         .removed = r->removed,
                         .has_version = r->has_version,
                         .version = r->version};
    s->done++;
    pthread_mutex_unlock(&s->mu);
}

static void ignore_note(mqs_client *c, const mqs_notification *n, void *ud) {}

static void crud_async(void)
{
    mqs_client *c = sdk_connect("async");
    CHECK(c);
    struct async_state s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    CHECK_INT(mqs_set_async(c, K("a"), K("1"), NULL, async_cb, &s), MQS_OK);
    CHECK(sdk_wait_flag(&s.done, 1, 5000));
    CHECK(s.last[0].err == MQS_OK && s.last[0].applied && s.last[0].has_version);
    CHECK_INT(mqs_get_async(c, K("a"), async_cb, &s), MQS_OK);
    CHECK(sdk_wait_flag(&s.done, 2, 5000));
    CHECK(s.last[1].found && mqs_hlc_compare(&s.last[1].version, &s.last[0].version) == 0);
    CHECK_INT(mqs_vdel_async(c, K("a"), K("2"), NULL, async_cb, &s), MQS_OK);
    CHECK(sdk_wait_flag(&s.done, 3, 5000));
    CHECK_INT(s.last[2].count, -1);
    CHECK_INT(mqs_del_async(c, K("a"), NULL, async_cb, &s), MQS_OK);
    CHECK(sdk_wait_flag(&s.done, 4, 5000));
    CHECK_INT(s.last[3].count, 1);
    CHECK_INT(mqs_get_async(c, "", 0, async_cb, &s), MQS_ERR_INVALID);
    /* observe / unobserve, async */
    CHECK_INT(mqs_observe_async(c, K("a"), ignore_note, NULL, async_cb, &s), MQS_OK);
    CHECK(sdk_wait_flag(&s.done, 5, 5000));
    CHECK_INT(s.last[4].err, MQS_OK);
    CHECK_INT(mqs_unobserve_async(c, K("a"), async_cb, &s), MQS_OK);
    CHECK(sdk_wait_flag(&s.done, 6, 5000));
    CHECK(s.last[5].err == MQS_OK && s.last[5].removed);
    mqs_client_destroy(c);
}

struct notes {
    pthread_mutex_t mu;
    volatile int count;
    mqs_notify_op op[16];
    bool synthetic[16];
    bool has_version[16];
    mqs_hlc version[16];
    char value[16][16];
};

static void note_cb(mqs_client *c, const mqs_notification *n, void *ud)
{
    struct notes *s = ud;
    pthread_mutex_lock(&s->mu);
    int i = s->count % 16;
    s->op[i] = n->op;
    s->synthetic[i] = n->synthetic;
    s->has_version[i] = n->has_version;
    s->version[i] = n->version;
    size_t len = n->value_len < 15 ? n->value_len : 15;
    memcpy(s->value[i], n->value ? (const char *)n->value : "", len);
    s->value[i][len] = '\0';
    s->count++;
    pthread_mutex_unlock(&s->mu);
}

static void observe(void)
{
    mqs_client *c = sdk_connect("obs"), *w = sdk_connect("writer");
    CHECK(c && w);
    struct notes s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    mqs_result r;
    CHECK_INT(mqs_observe(c, K("ok"), note_cb, &s, &r), MQS_OK);
    CHECK_INT(mqs_set(w, K("ok"), K("hello"), NULL, &r), MQS_OK);
    CHECK(sdk_wait_flag(&s.count, 1, 5000));
    CHECK(s.op[0] == MQS_NOTIFY_SET && !s.synthetic[0] && s.has_version[0]);
    CHECK_STR(s.value[0], "hello");
    CHECK_INT(mqs_hlc_compare(&s.version[0], &r.version), 0);
    CHECK_INT(mqs_del(w, K("ok"), NULL, &r), MQS_OK);
    CHECK(sdk_wait_flag(&s.count, 2, 5000));
    CHECK(s.op[1] == MQS_NOTIFY_DELETE);
    CHECK_INT(mqs_unobserve(c, K("ok"), &r), MQS_OK);
    CHECK(r.removed);
    CHECK_INT(mqs_unobserve(c, K("ok"), &r), MQS_OK);
    CHECK(!r.removed);
    CHECK_INT(mqs_set(w, K("ok"), K("again"), NULL, &r), MQS_OK);
    e2e_sleep_ms(300);
    CHECK_INT(s.count, 2);
    mqs_client_destroy(c);
    mqs_client_destroy(w);
}

/* A DELETE notification carries the removed entry's version: the same as
 * the SET before it (protocol §4.6). mqs_notify_pos_update must keep it,
 * and drop repeats and stale ones. */
static void notify_order(void)
{
    mqs_client *c = sdk_connect("order"), *w = sdk_connect("orderw");
    CHECK(c && w);
    struct notes s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    mqs_result r;
    CHECK_INT(mqs_observe(c, K("ord"), note_cb, &s, &r), MQS_OK);
    CHECK_INT(mqs_set(w, K("ord"), K("one"), NULL, &r), MQS_OK);
    mqs_hlc v1 = r.version;
    CHECK_INT(mqs_del(w, K("ord"), NULL, &r), MQS_OK);
    CHECK(r.count == 1 && r.has_version && mqs_hlc_compare(&r.version, &v1) == 0);
    CHECK_INT(mqs_set(w, K("ord"), K("two"), NULL, &r), MQS_OK);
    CHECK(sdk_wait_flag(&s.count, 3, 5000));
    CHECK(s.op[0] == MQS_NOTIFY_SET && s.op[1] == MQS_NOTIFY_DELETE && s.op[2] == MQS_NOTIFY_SET);
    CHECK_INT(mqs_hlc_compare(&s.version[0], &v1), 0);
    CHECK_INT(mqs_hlc_compare(&s.version[1], &v1), 0); /* not newer than the SET */
    CHECK(mqs_hlc_compare(&s.version[2], &v1) > 0);
    mqs_notify_pos pos = {0};
    mqs_notification n[3];
    for (int i = 0; i < 3; i++) {
        n[i] = (mqs_notification){.op = s.op[i], .has_version = true, .version = s.version[i]};
        CHECK(mqs_notify_pos_update(&pos, &n[i])); /* every real change is new */
    }
    for (int i = 0; i < 3; i++) CHECK(!mqs_notify_pos_update(&pos, &n[i])); /* repeats */
    pos = (mqs_notify_pos){0};
    CHECK(mqs_notify_pos_update(&pos, &n[1]));
    CHECK(!mqs_notify_pos_update(&pos, &n[0])); /* SET(v) after DELETE(v): stale */
    /* A synthetic DELETE (no version) is accepted, and so is what follows. */
    mqs_notification syn = {.op = MQS_NOTIFY_DELETE, .synthetic = true};
    CHECK(mqs_notify_pos_update(&pos, &syn));
    CHECK(mqs_notify_pos_update(&pos, &n[0]));
    mqs_client_destroy(c);
    mqs_client_destroy(w);
}

static void scan(void)
{
    mqs_client *c = sdk_connect("scan");
    CHECK(c);
    mqs_result r;
    char key[32];
    for (int i = 0; i < 250; i++) {
        snprintf(key, sizeof key, "scan/%03d", i);
        CHECK_INT(mqs_set(c, K(key), K("v"), NULL, &r), MQS_OK);
    }
    CHECK_INT(mqs_set(c, K("other"), K("v"), NULL, &r), MQS_OK);
    mqs_scan *s = mqs_scan_new(c, K("scan/*"));
    CHECK(s);
    int seen = 0, pages = 0;
    while (!mqs_scan_done(s)) {
        CHECK_INT(mqs_scan_next(s, &r), MQS_OK);
        for (size_t i = 0; i < r.nkeys; i++) seen += r.keys[i].len == 8 && !memcmp(r.keys[i].data, "scan/", 5);
        pages++;
        mqs_result_clear(&r);
    }
    mqs_scan_free(s);
    CHECK_INT(seen, 250);
    e2e_note("%d pages", pages);
    mqs_client_destroy(c);
}

static void restart(void)
{
    mqs_client *c = sdk_connect("survivor");
    CHECK(c);
    struct notes s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    mqs_result r;
    CHECK_INT(mqs_set(c, K("rk"), K("before"), NULL, &r), MQS_OK);
    CHECK_INT(mqs_observe(c, K("rk"), note_cb, &s, &r), MQS_OK);
    CHECK(sdk_restart_broker());
    /* The in-memory store lost the key: the synthetic notification from
     * the fresh GET after the reconnect says DELETE. */
    CHECK(sdk_wait_flag(&s.count, 1, 10000));
    CHECK(s.op[0] == MQS_NOTIFY_DELETE && s.synthetic[0] && !s.has_version[0]);
    mqs_client *w = sdk_connect("writer2");
    CHECK(w);
    CHECK_INT(mqs_set(w, K("rk"), K("after"), NULL, &r), MQS_OK);
    CHECK(sdk_wait_flag(&s.count, 2, 5000));
    CHECK(s.op[1] == MQS_NOTIFY_SET && !s.synthetic[1]);
    CHECK_STR(s.value[1], "after");
    mqs_client_destroy(w);
    mqs_client_destroy(c);
    CHECK(sdk_stop_restarted());
}

struct app_loop {
    mqs_client *c;
    volatile int stop;
};

/* The application's own event loop (poll), as client.h describes it. */
static void *app_loop(void *arg)
{
    struct app_loop *a = arg;
    while (!a->stop) {
        int fd = mqs_client_socket(a->c);
        struct pollfd p = {fd, (short)(POLLIN | (mqs_client_want_write(a->c) ? POLLOUT : 0)), 0};
        if (fd >= 0 && poll(&p, 1, 20) > 0) {
            if (p.revents & POLLIN) mqs_client_loop_read(a->c);
            if (p.revents & POLLOUT) mqs_client_loop_write(a->c);
        } else if (fd < 0) {
            e2e_sleep_ms(20);
        }
        mqs_client_loop_misc(a->c);
    }
    return NULL;
}

static void app_driven(void)
{
    char id[64];
    mqs_connect_opts o;
    mqs_connect_opts_init(&o);
    mqs_client_id_generate("app", id, sizeof id);
    o.host = "127.0.0.1";
    o.port = e2e_port();
    o.client_id = id;
    o.threaded = false;
    struct app_loop a = {mqs_client_new(&o, NULL), 0};
    CHECK(a.c);
    CHECK_INT(mqs_client_connect(a.c, 0), MQS_OK);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, app_loop, &a) == 0);
    for (int i = 0; i < 500 && !mqs_client_is_connected(a.c); i++) e2e_sleep_ms(10);
    mqs_result r;
    bool ok = mqs_client_is_connected(a.c) && mqs_set(a.c, K("app"), K("x"), NULL, &r) == MQS_OK && r.applied &&
              mqs_get(a.c, K("app"), &r) == MQS_OK && r.found;
    mqs_result_clear(&r);
    a.stop = 1;
    pthread_join(t, NULL);
    mqs_client_destroy(a.c);
    CHECK(ok);
}

/* mqs_unobserve_async on a key the library itself still watches (here a
 * leader's position) is answered without a round trip; its completion must
 * still run on the network thread, not inside the call (client.h). */
struct local_done {
    pthread_t thread;
    volatile int called;
    bool removed;
};

static void local_done_cb(mqs_client *c, const mqs_result *r, void *ud)
{
    struct local_done *d = ud;
    d->thread = pthread_self();
    d->removed = r->err == MQS_OK && r->removed;
    __atomic_store_n(&d->called, 1, __ATOMIC_SEQ_CST);
}

static void unobserve_local_threaded(void)
{
    mqs_client *c = sdk_connect("unobs");
    CHECK(c);
    mqs_leader *e = mqs_leader_new(c, K("unobs/pos"), NULL, 0, 3000, NULL, NULL);
    CHECK(e);
    mqs_result r;
    CHECK_INT(mqs_observe(c, K("unobs/pos"), ignore_note, NULL, &r), MQS_OK);
    struct local_done d = {0};
    CHECK_INT(mqs_unobserve_async(c, K("unobs/pos"), local_done_cb, &d), MQS_OK);
    CHECK(sdk_wait_flag(&d.called, 1, 5000));
    CHECK(d.removed);
    CHECK(!pthread_equal(d.thread, pthread_self())); /* the library's thread */
    mqs_leader_free(e);
    mqs_client_destroy(c);
}

static void unobserve_local_app_driven(void)
{
    char id[64];
    mqs_connect_opts o;
    mqs_connect_opts_init(&o);
    mqs_client_id_generate("unobsapp", id, sizeof id);
    o.host = "127.0.0.1";
    o.port = e2e_port();
    o.client_id = id;
    o.threaded = false;
    struct app_loop a = {mqs_client_new(&o, NULL), 0};
    CHECK(a.c);
    CHECK_INT(mqs_client_connect(a.c, 0), MQS_OK);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, app_loop, &a) == 0);
    for (int i = 0; i < 500 && !mqs_client_is_connected(a.c); i++) e2e_sleep_ms(10);
    mqs_leader *e = mqs_leader_new(a.c, K("unobs/app"), NULL, 0, 3000, NULL, NULL);
    mqs_result r;
    bool observed = e && mqs_observe(a.c, K("unobs/app"), ignore_note, NULL, &r) == MQS_OK;
    a.stop = 1;
    pthread_join(t, NULL);
    /* No loop step runs now: the completion must wait for one. */
    struct local_done d = {0};
    mqs_err err = observed ? mqs_unobserve_async(a.c, K("unobs/app"), local_done_cb, &d) : MQS_ERR_INVALID;
    int called_in_call = d.called;
    mqs_client_loop_misc(a.c);
    int called_by_step = d.called;
    a.stop = 0;
    CHECK(pthread_create(&t, NULL, app_loop, &a) == 0);
    mqs_leader_free(e);
    a.stop = 1;
    pthread_join(t, NULL);
    mqs_client_destroy(a.c);
    CHECK(observed);
    CHECK_INT(err, MQS_OK);
    CHECK_INT(called_in_call, 0);
    CHECK_INT(called_by_step, 1);
    CHECK(d.removed && pthread_equal(d.thread, pthread_self()));
}

/* mqs_client_connect_once fails at once on a closed port and says why;
 * mqs_client_error_text is empty after a successful connect. */
static void connect_once_errors(void)
{
    char id[64], text[256];
    mqs_connect_opts o;
    mqs_connect_opts_init(&o);
    mqs_client_id_generate("once", id, sizeof id);
    o.host = "127.0.0.1";
    o.client_id = id;
    /* A port nobody listens on: the harness port's neighbours, checked. */
    int closed = 0;
    for (int p = e2e_port() + 1; p < e2e_port() + 20 && !closed; p++) {
        o.port = p;
        mqs_client *probe = mqs_client_new(&o, NULL);
        if (mqs_client_connect_once(probe, 5000) == MQS_ERR_CONNECT) closed = p;
        mqs_client_destroy(probe);
    }
    CHECK(closed);
    o.port = closed;
    mqs_client *c = mqs_client_new(&o, NULL);
    CHECK(c);
    int64_t start = e2e_now_ms();
    CHECK_INT(mqs_client_connect_once(c, 10000), MQS_ERR_CONNECT);
    CHECK(e2e_now_ms() - start < 5000); /* not after the timeout */
    CHECK(mqs_client_error_text(c, text, sizeof text) > 0);
    CHECK_STR(text, "Connection refused");
    CHECK(!mqs_client_is_connected(c));
    mqs_client_destroy(c);
    /* Application-driven: the same, and the client can be connected again. */
    o.threaded = false;
    c = mqs_client_new(&o, NULL);
    CHECK(c);
    CHECK_INT(mqs_client_connect_once(c, 0), MQS_ERR_CONNECT);
    CHECK(mqs_client_error_text(c, text, sizeof text) > 0);
    CHECK_STR(text, "Connection refused");
    CHECK_INT(mqs_client_connect_once(c, 0), MQS_ERR_CONNECT); /* not MQS_ERR_BUSY */
    mqs_client_destroy(c);
    o.threaded = true;
    o.port = e2e_port();
    c = mqs_client_new(&o, NULL);
    CHECK(c);
    CHECK_INT(mqs_client_connect_once(c, 5000), MQS_OK);
    CHECK_INT(mqs_client_error_text(c, text, sizeof text), 0);
    mqs_client_destroy(c);
}

static const struct e2e_case cases[] = {
    {"app_driven", app_driven, .mqstated_only = ONLY},
    {"crud_sync", crud_sync, .mqstated_only = ONLY},
    {"crud_async", crud_async, .mqstated_only = ONLY},
    {"observe", observe, .mqstated_only = ONLY},
    {"notify_order", notify_order, .mqstated_only = ONLY},
    {"unobserve_local_threaded", unobserve_local_threaded, .mqstated_only = ONLY},
    {"unobserve_local_app_driven", unobserve_local_app_driven, .mqstated_only = ONLY},
    {"connect_once_errors", connect_once_errors, .mqstated_only = ONLY},
    {"scan", scan, .mqstated_only = ONLY},
    {"restart", restart, .mqstated_only = ONLY},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
