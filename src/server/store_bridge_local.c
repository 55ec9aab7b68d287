/* The bridge's own memory of replies (see store_bridge.c): non-repeatable
 * requests answered by decide without a record. */
#include "server/store_bridge_impl.h"

/* Replies decide gave at once to a request that is not repeatable: an
 * error (a SET refused for its arguments, say) or KEYNOTIFY STOP. They are
 * remembered here, in the bridge, for a redelivery to get the same answer
 * (a repeated STOP answers +OK again, not :0), as every non-repeatable
 * reply always was. Not state machine state: nothing was logged, and STOP
 * concerns this connection's registrations, which are never replicated.
 * RPC-level errors (505) are not remembered: they carry no RESP reply and
 * a repeat gets the same answer anyway. */
static dedup_key local_key(const store_request *req, uint64_t digest)
{
    return (dedup_key){
        {req->who.client_id.data, req->who.client_id.len}, {req->correlation.data, req->correlation.len}, digest};
}

bool store_bridge__local_lookup(store_bridge *sb, const store_request *req, uint64_t digest)
{
    if (dedup_count(sb->local) == 0) return false; /* the usual case: no digest */
    dedup_key k = local_key(req, digest);
    dedup_slice meta, payload;
    if (!dedup_get(sb->local, &k, req->now_ms, &meta, &payload)) return false;
    store_reply *r = &sb->reply;
    r->status = 200;
    r->status_message = NULL;
    r->payload.len = 0;
    buf_append(&r->payload, payload.data, payload.len);
    r->has_version = meta.len > 0;
    r->version.len = 0;
    buf_append(&r->version, meta.data, meta.len);
    return true;
}

void store_bridge__local_remember(store_bridge *sb, const store_request *req, uint64_t digest)
{
    const store_reply *r = &sb->reply;
    if (r->status != 200) return;
    dedup_key k = local_key(req, digest);
    dedup_put(sb->local, &k, (dedup_slice){r->version.data, r->has_version ? r->version.len : 0},
              (dedup_slice){r->payload.data, r->payload.len}, req->now_ms,
              store_dedup_until(req->now_ms, req->expiry_s ? req->expiry_s : STORE_DEFAULT_EXPIRY_S));
}
