/* Internals shared by service.c (the object, dispatch, change fan-out,
 * active expiry) and service_cmd.c (per-command validation and
 * execution). Not part of the public interface: include only from those. */
#ifndef MQS_STORE_SERVICE_IMPL_H
#define MQS_STORE_SERVICE_IMPL_H

#include "ssproto/hlc.h"
#include "store/dedup.h"
#include "store/keyspace.h"
#include "store/notify_registry.h"
#include "ssproto/resp.h"
#include "store/service.h"
#include "util/buf.h"

/* One key found due by keyspace_collect_due, copied out of the keyspace
 * (its bytes live in store_service.due_bytes) so that applying the
 * KEYSPACE_EXPIRE records cannot invalidate it. */
typedef struct svc_due {
    size_t key_off, klen;
    size_t node_off, node_len;
    uint64_t wall_ms, counter;
} svc_due;

struct store_service {
    keyspace *ks;
    hlc_clock *clock;
    notify_registry *reg;
    dedup *dedup; /* applied writes' replies: state machine state */
    size_t scan_page_keys, scan_page_bytes;
    size_t max_key_len;                /* 0: unlimited (also bounds KEYNOTIFY keys) */
    keyspace_limits limits;            /* as configured: store_service_reset makes the keyspace anew */
    size_t dedup_entries, dedup_bytes; /* the same for the de-duplication table */

    store_notify_fn notify;
    void *notify_ctx;
    bool quiet;                   /* store_service_set_quiet: no notifications */
    store_authorize_fn authorize; /* NULL: everything allowed */
    void *auth_ctx;

    /* Scratch reused across calls so the hot path does not allocate once
     * the buffers have grown to the working size. */
    buf n_topic, n_payload, n_version; /* one notification */
    buf scan_keys;                     /* encoded bulk keys of a SCAN page */
    buf scan_token;
    buf due_bytes;  /* keys + node ids of an expiry batch */
    buf dedup_meta; /* a de-duplication entry's meta being built */
    svc_due *due;
    size_t due_n, due_cap;
    store_reply apply_reply; /* apply's reply when the caller wants none */

    uint64_t insertions, modifications, deletions, retrievals, keynotify_requests, notifications_sent, errors;
    uint64_t expirations; /* keys removed by active expiry (EXPIRE records that deleted) */
};

/* What one store_service_decide (or apply: req NULL) is working on. A
 * write command fills `rec` and sets `logged` instead of replying. */
typedef struct svc_ctx {
    store_service *s;
    const store_request *req;
    resp_request rq;
    store_reply *out;
    store_record *rec;
    bool logged;
} svc_ctx;

/* Reply `-ERR <text>` (no __ts) and count it. */
void store_service__reply_error(svc_ctx *c, resp_error e);
/* Set the reply's __ts to v. */
void store_service__reply_version(svc_ctx *c, const hlc *v);
/* Fan the result's change events out to the watchers of their keys, in
 * order, and count deletions. Must run before the next keyspace_apply. */
void store_service__publish_events(store_service *s, const keyspace_result *res);

/* Apply a SET / DEL / VDEL record and write its reply (service_cmd.c). */
void store_service__apply_set(svc_ctx *c, const store_record *r);
void store_service__apply_delete(svc_ctx *c, const store_record *r);

/* The per-command deciders (service_cmd.c); argv[0] is the verb. */
void store_service__cmd_set(svc_ctx *c);
void store_service__cmd_get(svc_ctx *c);
void store_service__cmd_del(svc_ctx *c);
void store_service__cmd_vdel(svc_ctx *c);
void store_service__cmd_keynotify(svc_ctx *c);
void store_service__cmd_scan(svc_ctx *c);

/* A de-duplication entry's meta is one flag byte, then the reply's __ts
 * (empty when it had none). The flag is the record's persist flag: only
 * durable entries go into snapshots (snapshot.c). */
#define SVC_DEDUP_VOLATILE 0
#define SVC_DEDUP_DURABLE 1

#endif
