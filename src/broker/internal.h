/* Private to src/broker: the structures shared by the broker's files.
 *
 * Object graph and ownership:
 *   broker  owns every session (b->sessions, keyed by client id) and every
 *           client (b->clients list, freed from the net on_close callback).
 *   client  = one network connection. Borrowed link c->s to its session
 *           (NULL before CONNECT and after detaching); s->c points back.
 *   session owns its subscriptions (also registered in b->tree with the
 *           session as owner), its outbound deliveries (in-flight list and
 *           queue), its inbound QoS 2 packet ids, and a pending delayed will.
 *   msg     is reference counted: one reference per delivery entry, per
 *           retained slot, per will, plus the routing caller's own. */
#ifndef MQS_BROKER_INTERNAL_H
#define MQS_BROKER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/broker.h"
#include "broker/broker_registry.h"
#include "broker/broker_persist.h"
#include "broker/broker_cluster.h"
#include "util/heap.h"
#include "broker/retain.h"
#include "broker/session_table.h"
#include "broker/topic_tree.h"
#include "mqtt/codec.h"
#include "util/buf.h"
#include "util/hashmap.h"

typedef struct session session;
typedef struct client client;

/* --- message.c ----------------------------------------------------------- */

/* An application message shared by every receiver. Immutable once routed
 * (except expiry_at, which a will sets when it is published). */
typedef struct msg {
    uint32_t refs;
    uint32_t topic_hash; /* for outbound topic alias lookups: broker__msg_topic_hash */
    uint64_t expiry_at;  /* clock_now_ms deadline; 0 = never */
    uint8_t qos;
    bool retain;
    bool snap_written;                /* snapshot child only: body written (persist_session.c); was padding */
    bool topic_hashed;                /* topic_hash computed (lazily: most receivers use no aliases) */
    uint32_t cap;                     /* bytes allocated for data[]; in what was padding */
    mqtt_bytes topic, payload, props; /* point into data[] */
    uint8_t data[];
} msg;

msg *broker__msg_new(mqtt_bytes topic, mqtt_bytes payload, mqtt_bytes props, uint8_t qos, bool retain);
msg *broker__msg_ref(msg *m);
void broker__msg_unref(msg *m);
/* Free the blocks kept for reuse by broker__msg_new (broker_free calls it). */
void broker__msg_pool_drain(void);
/* For retain_store_new. */
void broker__msg_release(void *m);
bool broker__msg_expired(const msg *m, uint64_t now);
/* Seconds left, rounded up so a live message never reads as 0. */
uint32_t broker__msg_expiry_left(const msg *m, uint64_t now);
uint32_t broker__msg_topic_hash(msg *m);

/* A shared subscription's full filter ("$share/g/f"), referenced by the
 * subscription record and by every delivery it produced, so a delivery can
 * be moved to another member of the group. */
typedef struct share_key {
    uint32_t refs;
    uint32_t len;
    uint8_t filter[];
} share_key;

share_key *broker__share_key_new(mqtt_bytes filter);
share_key *broker__share_key_ref(share_key *k);
void broker__share_key_unref(share_key *k);

/* --- delivery.c: outbound entries ---------------------------------------- */

enum dlv_state {
    DLV_QUEUED, /* not sent on the current connection */
    DLV_SENT,   /* PUBLISH sent, awaiting PUBACK / PUBREC */
    DLV_PUBREL, /* PUBREL sent, awaiting PUBCOMP */
};

typedef struct delivery {
    struct delivery *next;
    msg *m;
    share_key *share;  /* non-NULL when routed through a shared subscription */
    uint32_t *sub_ids; /* heap array when n_sub_ids > 1 */
    uint32_t sub_id;   /* the identifier when n_sub_ids == 1 */
    uint16_t n_sub_ids;
    uint16_t packet_id; /* 0 until first sent */
    uint8_t qos;
    uint8_t state;
    bool retain;
} delivery;

/* `bytes` is what the entries account for (broker__dlv_cost): it fills what was
 * padding and is read only for the queue, which max_queued_bytes bounds
 * (the in-flight window is bounded by count). Unsigned arithmetic keeps
 * it exact for every list as long as each entry adds and removes the same
 * cost, so an entry's cost must not change while it is listed. */
typedef struct dlv_list {
    delivery *head, *tail;
    uint32_t n;
    uint32_t bytes;
} dlv_list;

delivery *broker__delivery_new(msg *m, uint8_t qos, bool retain, const uint32_t *sub_ids, uint16_t n);
void broker__delivery_free(delivery *d);
/* Free the entries kept for reuse by broker__delivery_new (broker_free calls it). */
void broker__delivery_pool_drain(void);
const uint32_t *broker__delivery_sub_ids(const delivery *d);
/* Bytes an entry holds: the entry plus its whole message (a message shared
 * by several sessions counts fully in each, which is what each would keep
 * alive on its own). */
uint32_t broker__dlv_cost(const delivery *d);
void broker__dlv_push(dlv_list *l, delivery *d);
delivery *broker__dlv_pop(dlv_list *l);
/* Unlink d, whose predecessor is prev (NULL for the head). */
void broker__dlv_unlink(dlv_list *l, delivery *prev, delivery *d);
void broker__dlv_clear(dlv_list *l);
#ifndef NDEBUG
/* Debug-build checkers (assert(dlv__check...(l))): head, tail and n agree
 * at the ends, O(1), after every list operation; and the whole list, O(n):
 * n entries, bytes their summed broker__dlv_cost, tail the last one. */
bool dlv__check_ends(const dlv_list *l);
bool dlv__check(const dlv_list *l);
#endif

/* --- session.c ------------------------------------------------------------ */

typedef struct sub_rec {
    uint8_t *filter; /* as subscribed, "$share/..." included */
    uint32_t len;
    sub_options opts;
    share_key *share;
} sub_rec;

/* A will waiting for its delay (or session end) after its connection died. */
typedef struct will {
    msg *m;
    uint32_t delay;  /* seconds */
    uint32_t expiry; /* message expiry seconds, applied when published */
    bool has_expiry;
} will;

/* What only some sessions ever need: inbound QoS 2 state, publishers
 * paused on the queue, a delayed will. Behind one pointer, allocated on
 * first use (session_rare) and kept until the session ends, so that the
 * common session (QoS 0/1, no will delay) stays in a smaller malloc class. */
typedef struct session_rare {
    uint16_t *rx_qos2; /* inbound QoS 2 ids awaiting PUBREL */
    uint32_t n_rx_qos2, cap_rx_qos2;
    client **waiters; /* publishers paused on this session's full queue */
    uint32_t n_waiters, cap_waiters;
    session *slow_session; /* back-link for the slow-subscriber heap (b->slow_timers) */
    heap_timer slow_timer; /* armed while connected with a full queue (flow.c) */
    will *pending_will;
    uint64_t will_at;
    /* While offline: the principal of the connection that left (owned;
     * NULL: it had none). Whose the session is (a connection of another
     * principal gets a clean session, connect.c) and whose rights its
     * delayed will and queued messages are checked against. Connected, the
     * connection's own principal serves and this is NULL. */
    struct principal *owner;
} session_rare;

struct session {
    broker *b;
    session *table_next; /* b->sessions chain (session_table.c) */
    client *c;
    uint32_t expiry;    /* session expiry interval, seconds */
    uint32_t route_idx; /* see route.c */
    heap_timer timer;   /* min(expire_at, will_at), while offline */
    uint64_t expire_at; /* 0 = not counting down */
    sub_rec *subs;
    uint32_t n_subs, cap_subs;
    dlv_list inflight;  /* sent, in send order (= resend order) */
    dlv_list queue;     /* waiting for window / connection */
    uint64_t route_gen; /* see route.c */
    session_rare *rare; /* NULL until needed */
    /* Last, so that the id starts right after them (allocated from
     * offsetof(session, id), not sizeof: the tail padding holds id bytes). */
    uint16_t id_len; /* an MQTT string: at most 65535 bytes */
    uint16_t next_pid;
    uint8_t psess; /* durable-session bits (PSESS_ON, PSESS_DIRTY: persist_session.c) */
    uint8_t id[];  /* the client id, id_len bytes: stored once, the table's key too */
};

session *broker__session_find(broker *b, mqtt_bytes id);
session *broker__session_create(broker *b, mqtt_bytes id);
/* End the session: publish a pending will, drop subscriptions and
 * messages (moving shared ones to other members), free it. */
void broker__session_end(session *s);
/* The connection went away: start expiry (or end now when expiry is 0). */
void broker__session_went_offline(session *s);
/* Re-arm the offline timer after expire_at / will_at changed. */
void broker__session_rearm(session *s);
void broker__session_timer_fired(session *s, uint64_t now);
sub_rec *broker__session_sub_find(session *s, mqtt_bytes filter);
/* Returns true if the record is new. */
bool broker__session_sub_set(session *s, mqtt_bytes filter, const sub_options *o);
bool broker__session_sub_remove(session *s, mqtt_bytes filter);
bool broker__session_rx_qos2_has(const session *s, uint16_t id);
void broker__session_rx_qos2_add(session *s, uint16_t id);
bool broker__session_rx_qos2_remove(session *s, uint16_t id);
void broker__session_free_all(broker *b);
/* s->rare, allocated (zeroed) on first call. */
session_rare *broker__session_rare_get(session *s);
/* The principal s acts as: its connection's while connected, else the
 * one kept from the last connection (NULL: anonymous without one). */
const struct principal *broker__session_principal(const session *s);
/* The connection leaving s hands over its principal (ownership passes;
 * NULL is fine); a connection attaching takes it back with NULL. */
void broker__session_keep_principal(session *s, struct principal *who);
/* Replace the session's delayed will (NULL: cancel it). */
void broker__session_set_will(session *s, will *w, uint64_t at);
static inline will *broker__session_pending_will(const session *s) { return s->rare ? s->rare->pending_will : NULL; }
static inline uint32_t broker__session_n_waiters(const session *s) { return s->rare ? s->rare->n_waiters : 0; }
static inline uint32_t broker__session_n_rx_qos2(const session *s) { return s->rare ? s->rare->n_rx_qos2 : 0; }

/* --- client.c ------------------------------------------------------------- */

enum client_state {
    CLIENT_NEW,       /* waiting for CONNECT */
    CLIENT_CONNECTED, /* CONNACK sent */
    CLIENT_CLOSED,    /* detached; waiting for the net's on_close */
};

typedef struct alias_in alias_in;
typedef struct alias_out alias_out;

/* The CONNECT's user name (authorizers and publish hooks get it as sent,
 * whatever the principal says): one allocation, only when there is one. */
typedef struct client_user {
    uint32_t len;
    uint8_t data[];
} client_user;

/* Output held until promises are kept (hold.c): while n_marks > 0
 * everything sent to the client goes to `held` instead of the connection;
 * held[marks[i].off ..) waits until, in each promise space, every promise
 * up to marks[i].seq[space] is kept (offsets and sequence numbers
 * non-decreasing, marks[0].off == 0). Two independent spaces: records
 * durable (persist.c) and messages taken by the other nodes they were
 * forwarded to (broker_cluster.h). */
enum { HOLD_PERSIST, HOLD_REMOTE, HOLD_SPACES };
typedef struct hold_mark {
    uint64_t seq[HOLD_SPACES];
    size_t off;
} hold_mark;

/* The clients with held output and what is kept (b->hold; hold.c). */
typedef struct broker_hold {
    client **list; /* clients with held output, c->flow->hold_idx their index */
    uint32_t n, cap;
    uint64_t done[HOLD_SPACES]; /* every promise <= done[space] is kept */
} broker_hold;

/* A publisher paused by backpressure: the sessions whose full queues it
 * waits on, how many bytes of held input it has (self_held) and its link
 * in b->resume_head; and output held until records are durable (above).
 * Most clients never pause nor hold, so this is allocated on the first
 * pause (flow.c) or hold (persist.c) and kept until on_close. */
typedef struct client_flow {
    session **blocked_on;
    uint32_t n_blocked, cap_blocked;
    client *resume_next;
    buf held;
    hold_mark *marks;
    uint32_t n_marks, cap_marks;
    uint32_t hold_idx; /* index in the broker's list of holding clients */
} client_flow;

/* Per-connection memory matters (idle connections are the common case):
 * fields are ordered to avoid padding, and what only some connections need
 * lives behind pointers (ain, aout, will, user, who, authn_wait, flow). */
struct client {
    broker *b;
    net_conn *conn;
    session *s;
    buf rx;           /* an incomplete packet (or unprocessed input while paused) */
    heap_timer timer; /* connect timeout, then keep-alive */
    /* NEW: when accepted (the CONNECT timeout counts from it); from the
     * CONNACK on: the last input (keep-alive). One field serves both
     * because a client is in one state at a time. */
    uint64_t last_rx;
    uint32_t ka_ms; /* 1.5 x keep alive; 0 = none */
    uint8_t version;
    uint8_t state;
    bool problem_info : 1; /* v5 Request Problem Information (default 1) */
    bool paused : 1;       /* reads paused by publisher backpressure */
    bool resume_queued : 1;
    bool session_zero : 1; /* CONNECT session expiry was 0 (DISCONNECT may not raise it) */
    bool self_held : 1;    /* own output over its bound: only acks are processed (flow.c) */
    bool quota_cut : 1;    /* to be disconnected with 0x97 from the loop (broker__flow_cut_later) */
    bool input_ends : 1;   /* held input ends with DISCONNECT: processed in full, not held */
    uint8_t refuse_rc;     /* with refuse_at; beside the flags to fill padding */
    uint16_t window;       /* outbound in-flight limit */
    uint16_t alias_out_max;
    uint32_t max_out; /* client's Maximum Packet Size; 0 = protocol max */
    alias_in *ain;
    alias_out *aout;
    will *will;
    client_user *user;             /* NULL: no user name in the CONNECT */
    struct principal *who;         /* owned; NULL: anonymous, see broker_require_principals */
    uint64_t refuse_at;            /* failed authentication: CONNACK due then; 0 = none */
    struct authn_wait *authn_wait; /* CONNECT waiting for the authenticator; NULL = none */
    client_flow *flow;             /* NULL until first paused by backpressure or held (persist.c) */
    client *prev, *next;           /* b->clients */
};

/* "5", "3.1.1" or "3.1" (c's protocol version), for log lines. */
const char *broker__client_protocol(const client *c);
/* c's user name for authorization requests and hooks; NULL if it gave
 * none. `tmp` holds the slice the result points to. */
const mqtt_bytes *broker__client_username(const client *c, mqtt_bytes *tmp);
/* The principal an anonymous c stands for under `id` (owned by the caller). */
struct principal *broker__client_anonymous_principal(const client *c, mqtt_bytes id);
/* Give c (connected or connecting under `id`) its anonymous principal if
 * it has none and principals are required (broker_require_principals). */
void broker__client_ensure_principal(client *c, mqtt_bytes id);

/* Send a packet, respecting the client's Maximum Packet Size: reason
 * string and user properties are dropped if they would make it too large;
 * returns false if even that does not fit (nothing sent). */
bool broker__client_send(client *c, const mqtt_packet *p);
void broker__client_send_ack(client *c, uint8_t type, uint16_t id, uint8_t reason);
/* Server-initiated end: v5 DISCONNECT (reason string only when allowed),
 * then close with the will published (unless rc is 0x00). */
void broker__client_disconnect(client *c, uint8_t rc, const char *reason);
/* Close the connection; `will` says whether the will applies. */
void broker__client_close(client *c, bool will);
/* Detach from the session and the broker's bookkeeping; idempotent. */
void broker__client_detach(client *c, bool will);
/* Another connection claims the session: v5 DISCONNECT 0x8E, close; the
 * session stays for the new connection (which may end it: clean start). */
void broker__client_takeover(client *old);
void broker__client_touch_timer(client *c);
void broker__client_timer_fired(client *c, uint64_t now);
/* Resume a paused publisher (deferred to the loop, never re-entrant). */
void broker__client_resume_later(client *c);
void broker__client_process_resumed(broker *b);
/* Process a decoded packet. */
void broker__client_dispatch(client *c, mqtt_packet *p);
/* Process the input that waited (while paused or authenticating) and
 * read again unless something paused the client anew. */
void broker__client_continue_input(client *c);

/* --- connect.c ------------------------------------------------------------ */

/* `raw` is the whole CONNECT packet as received (kept if authentication
 * is pending). */
void broker__connect_handle(client *c, mqtt_packet *p, mqtt_bytes raw);
/* Authentication accepted a pending CONNECT (c->who set, or NULL for an
 * anonymous client): decode the
 * kept copy `raw` and finish it under client id `id` (the one it was
 * authenticated under: a server-assigned id is not in the packet). */
void broker__connect_resume(client *c, mqtt_bytes raw, mqtt_bytes id);
/* Refuse with a CONNACK of `rc` after delay_ms (0: now), then close. */
void broker__connect_refuse_later(client *c, uint8_t rc, uint32_t delay_ms);
/* Count a refusing CONNACK in broker_stats.connects_refused. */
void broker__count_refusal(broker *b, uint8_t rc);

/* --- authenticate.c ------------------------------------------------------- */

/* A pending CONNECT (private to authenticate.c). */
struct authn_wait;

enum authn_outcome { AUTHN_ACCEPTED, AUTHN_REFUSED, AUTHN_PENDING };
/* Run the authenticator on the CONNECT `cn` (raw: its bytes) under client
 * id `id`. ACCEPTED: c->who is set (NULL: anonymous); REFUSED: the refusal is under way;
 * PENDING: the CONNECT is kept and reads paused until
 * broker_authn_complete. */
enum authn_outcome broker__authenticate_start(client *c, const mqtt_connect *cn, mqtt_bytes id, mqtt_bytes raw);
/* The connection ends: forget its pending authentication, if any. */
void broker__authenticate_forget(client *c);

/* --- publish.c (inbound) -------------------------------------------------- */

void broker__publish_handle(client *c, mqtt_publish *p);
void broker__pubrel_handle(client *c, const mqtt_ack *a);

/* --- route.c -------------------------------------------------------------- */

typedef struct route_result {
    uint32_t receivers; /* sessions the message went to (or was queued for) */
    uint32_t dropped;   /* receivers that refused it (quota) */
    uint32_t full;      /* connected receivers whose queue is now at its bound */
} route_result;

/* Route m to every matching subscription. origin (NULL for the server) is
 * used for no-local; publisher (may be NULL) is paused when a connected
 * receiver's queue is full. */
route_result broker__route_message(broker *b, msg *m, session *origin, client *publisher);
/* Move a shared-subscription delivery to another member of its group;
 * returns false if there is no other member (d untouched). */
bool broker__route_reshare(broker *b, delivery *d, session *from);
void broker__route_free(broker *b);

/* --- deliver.c (outbound) ------------------------------------------------- */

enum deliver_result { DELIVER_OK, DELIVER_FULL, DELIVER_DROPPED };
/* Hand a message to a session; takes ownership of nothing (refs m). */
enum deliver_result broker__deliver(session *s, msg *m, uint8_t qos, bool retain, const uint32_t *sub_ids,
                                    uint16_t n_sub_ids, share_key *share);
/* Send from the queue while the window, backlog and queue allow. */
void broker__deliver_pump(session *s);
/* New connection to an existing session: resend in-flight (DUP), then pump. */
void broker__deliver_resume(session *s);
#ifndef NDEBUG
/* Debug-build checker (assert(delivery__check(s))): deliver.c's invariants
 * (states, QoS, unique non-zero packet ids in flight) and both lists'. */
bool delivery__check(const session *s);
#endif
void broker__deliver_ack(client *c, uint8_t type, const mqtt_ack *a);
bool broker__deliver_window_open(const session *s);
/* Move QoS 1/2 shared deliveries (in-flight and queued) to other members. */
void broker__deliver_reshare_all(session *s, bool inflight_too);

/* --- flow.c: publisher backpressure ---------------------------------------- */

void broker__flow_block(client *publisher, session *s);
/* Wake the publishers waiting on s (its queue drained or it went away)
 * and stop its slow-subscriber clock. */
void broker__flow_release(session *s);
void broker__flow_client_gone(client *c);
/* At max_queued_messages or max_queued_bytes. */
bool broker__flow_queue_full(const session *s);
/* Down to 3/4 of both bounds: paused publishers may go on. */
bool broker__flow_queue_low(const session *s);
/* A connected session's queue became full: start its slow-subscriber
 * clock (limits.slow_subscriber_timeout) unless running. */
void broker__flow_queue_filled(session *s);
/* The sweep: disconnect (0x97) subscribers full for too long. */
void broker__flow_sweep(broker *b, uint64_t now);
/* Disconnect c with 0x97 (Quota exceeded) from the loop, not from inside
 * the current call (a service may be iterating its own tables). */
void broker__flow_cut_later(client *c);
/* Self backpressure (c's own output: its backlog or its session's queue).
 * broker__flow_self_over: hold c's input now; broker__flow_self_low: hysteresis to let it
 * go; broker__flow_self_check: after output drained, resume a held client. */
#define FLOW_HOLD_MAX (64 * 1024) /* bytes of held input before its socket is not read */
bool broker__flow_self_over(const client *c);
bool broker__flow_self_low(const client *c);
void broker__flow_self_check(client *c);

/* --- subscribe.c ---------------------------------------------------------- */

void broker__subscribe_handle(client *c, mqtt_subscribe *p);
void broker__unsubscribe_handle(client *c, mqtt_unsubscribe *p);

/* --- reauth.c ------------------------------------------------------------ */

/* Re-run the authorizers over c's session (c resuming it): remove the
 * subscriptions they deny, drop queued and in-flight messages on topics
 * c may not receive. Returns how many subscriptions were removed. */
uint32_t broker__reauth_session(client *c);

/* --- will.c --------------------------------------------------------------- */

will *broker__will_from_connect(const mqtt_connect *cn);
void broker__will_free(will *w);
/* May `who` (client `client_id`, `username` as in broker_auth_request)
 * have a will on `topic`? The authorizers' verdict as for a PUBLISH, and
 * never on a service's hook topic (a will is routed, so the service would
 * not see it). MQTT_RC_SUCCESS or the denial. */
uint8_t broker__will_authorize(broker *b, mqtt_bytes client_id, const mqtt_bytes *username, const struct principal *who,
                               mqtt_bytes topic, uint8_t qos, bool retain);
/* Publish the will of session s as `who` (see broker__will_authorize: the rules
 * may have been reloaded since CONNECT, so they are asked again; a denied
 * will is dropped and logged). origin: for no-local, NULL for none. */
void broker__will_publish(broker *b, will *w, session *s, session *origin, const mqtt_bytes *username,
                          const struct principal *who);

/* --- registry.c: the session registry hooks (broker_registry.h) ---------------------- */

/* c's CONNECT was accepted (after the CONNACK). */
void broker__registry_connected(client *c, bool clean_start);
/* c's connection leaves session s (its will handled: published, held in
 * s, or dropped). */
void broker__registry_disconnected(session *s);
/* The will held in s is gone (published, cancelled, dropped). */
void broker__registry_will_done(session *s);

/* --- alias.c -------------------------------------------------------------- */

/* Inbound: resolve or set; returns 0 or a v5 reason code. *topic is
 * replaced by the stored topic for alias-only publishes. */
int broker__alias_in_apply(client *c, mqtt_publish *p);
/* Outbound: the alias to send for m, and whether the topic can be left
 * empty. Returns 0 when aliases are not used. */
uint16_t broker__alias_out_pick(client *c, msg *m, bool *known);
/* A newly assigned alias whose PUBLISH was not sent after all. */
void broker__alias_out_forget(client *c, uint16_t alias);
void broker__alias_free(client *c);

/* --- persist.c: durability (broker_persist.h) ----------------------------- */

/* The broker's durability state (b->persist; NULL: persistence off). */
typedef struct broker_persist broker_persist;

/* Is the retained message of `topic` durable? Is the session of this
 * client id durable (when its expiry is not 0)? false when persistence is off. */
bool broker__persist_retained_selected(const broker *b, mqtt_bytes topic);
bool broker__persist_session_selected(const broker *b, mqtt_bytes client_id);
/* Cluster mode: is the retained message of `topic` replicated (changed
 * only when its record is applied, broker_persist_apply)? */
bool broker__persist_retained_replicated(const broker *b, mqtt_bytes topic);
/* The sink refuses records now: QoS 1/2 PUBLISHes that would append
 * records are refused (0x97) without being routed. */
bool broker__persist_refusing(const broker *b);
/* Append one record; returns its sequence number, 0 if persistence is
 * off or the sink refused it. */
uint64_t broker__persist_append(broker *b, uint8_t type, const uint8_t *p, size_t n);
/* The last sequence number appended (0: none yet). */
uint64_t broker__persist_last(const broker *b);
/* --- hold.c: held output --- */
/* Everything sent to c from now on waits until promise `seq` of `space`
 * is kept (nothing to do if it is). The held output counts toward c's
 * backlog. HOLD_PERSIST: only while persistence is on. */
void broker__client_hold(client *c, int space, uint64_t seq);
/* ... until record `seq` is committed. */
static inline void broker__client_hold_until(client *c, uint64_t seq) { broker__client_hold(c, HOLD_PERSIST, seq); }
/* Every promise <= seq of space is kept: release what waited only on them. */
void broker__hold_kept(broker *b, int space, uint64_t seq);
/* Promises of space will not be kept: close every client whose held
 * output waits on one (reason 0x80, why), dropping that output. */
void broker__hold_fail(broker *b, int space, const char *why);
void broker__hold_free(broker *b);
/* Around the processing of one inbound packet of c: every record appended
 * meanwhile holds c's output from then on (broker__client_hold_until), so
 * the acknowledgement of a packet that appended records goes out only once
 * they are durable. enter returns the previous client (NULL), to restore. */
client *broker__persist_enter(broker *b, client *c);
void broker__persist_leave(broker *b, client *prev);
/* Where c's output goes: the connection's buffer, or the held one while c
 * waits for records (then out_done does not flush). Every encoder writing
 * to a client uses these two. */
buf *broker__client_out(client *c);
void broker__client_out_done(client *c);
/* Bytes of c's output held (with their bookkeeping): part of its backlog. */
size_t broker__client_held_bytes(const client *c);
/* c's backlog as its bounds see it: unwritten plus held output. */
size_t broker__client_backlog(const client *c);
/* c goes away or is disconnected by the server: drop its held output
 * (it promised what is not durable; the client retries). Idempotent. */
void broker__persist_client_gone(client *c);
/* Would routing m append records (retained with a selected topic, or
 * what the session code's predicate says)? false when persistence is off. */
bool broker__persist_would_append(const broker *b, const msg *m);
/* The session code's part of broker__persist_would_append ("m goes to a
 * durable session"); NULL (the default): none. */
typedef bool (*broker_persist_would_append_fn)(const broker *b, const msg *m);
void broker__persist_set_session_would_append(broker *b, broker_persist_would_append_fn fn);
/* A scratch buffer for encoding one record (emptied by the caller). */
buf *broker__persist_scratch(broker *b);
/* Absolute deadlines: the broker's monotonic ms (broker_now) to wall-clock
 * Unix ms for records, and back (0 stays 0 = none). */
uint64_t broker__persist_to_wall(uint64_t mono_ms);
uint64_t broker__persist_to_mono(uint64_t wall_ms);
/* The same against given readings of both clocks (one pair for a whole
 * snapshot or restore, so that every deadline moves by the same offset). */
uint64_t broker__persist_to_wall_at(uint64_t mono_ms, uint64_t now, uint64_t wall);
uint64_t broker__persist_to_mono_at(uint64_t wall_ms, uint64_t now, uint64_t wall);
void broker__persist_free(broker *b);

/* persist_retain.c: BROKER_REC_RETAIN. */
const char *broker__retain_replay(broker *b, const uint8_t *p, size_t n);
bool broker__retain_snapshot(const broker *b, broker_persist_write_fn fn, void *ctx);
/* broker_ingest changed the retained message of m->topic (set or cleared):
 * append its record if the topic is selected. */
void broker__retain_persist(broker *b, const msg *m);
/* broker_persist_reset: clear the retained messages of selected topics. */
void broker__retain_reset(broker *b);
/* The RETAIN record (layout in persist_retain.c). An empty payload is a
 * clear (then qos 0, no properties, deadline 0). */
typedef struct retain_rec {
    mqtt_bytes topic, props, payload; /* BORROWED (decode: from the input) */
    uint8_t qos;
    uint64_t deadline; /* wall-clock Unix ms; 0 = no message expiry */
} retain_rec;
void broker__retain_rec_encode(buf *out, const retain_rec *r);
/* NULL, or why p[0..n) is not a canonical RETAIN record. */
const char *broker__retain_rec_decode(const uint8_t *p, size_t n, retain_rec *out);

/* persist_session.c: the session records (BROKER_REC_RETAIN + 1 ..
 * BROKER_REC_LAST). */
const char *broker__session_replay(broker *b, uint8_t type, const uint8_t *p, size_t n);
void broker__session_replay_done(broker *b, broker_persist_restored *out);
bool broker__session_snapshot(const broker *b, broker_persist_write_fn fn, void *ctx);

/* The hooks at every change of a session's state. Each does nothing
 * unless the session is durable (s->psess & PSESS_ON); those returning a
 * sequence number return the last record's (0: nothing written). */
#define PSESS_ON 1    /* durable: its changes are logged */
#define PSESS_DIRTY 2 /* a record of it was refused: rewrite it whole before the next */
/* A connection attached s and set its expiry: s becomes (or stays, or
 * stops being) durable. */
void broker__psess_attached(session *s);
/* s went offline with expiry > 0 (its deadline starts). */
void broker__psess_offline(session *s);
/* s ends (expired, clean start, taken by another principal). */
void broker__psess_ended(session *s);
void broker__psess_sub(session *s, const sub_rec *r);
void broker__psess_unsub(session *s, mqtt_bytes filter);
void broker__psess_rx(session *s, uint16_t packet_id, bool add);
/* A new delivery entry: queued (DLV_QUEUED) or just put in flight
 * (DLV_SENT with its packet id). */
uint64_t broker__psess_dlv(session *s, const delivery *d);
/* PSESS_SENT (the queue's head went in flight), PSESS_DONE (an in-flight
 * entry ended), PSESS_PUBREL (PUBREC arrived). */
uint64_t broker__psess_pid(session *s, uint8_t type, uint16_t packet_id);
/* The entry at `index` of the queue (or in-flight list) was dropped. */
void broker__psess_drop(session *s, bool inflight, uint32_t index);
/* route.c: m is being routed (NULL: done): its body is written once for
 * every durable session it reaches. */
void broker__psess_routing(broker *b, const msg *m);
void broker__psess_free(broker *b);
/* The sink failed records it had accepted (broker_persist_failed): the log
 * lost changes of any durable session; each is rewritten whole before its
 * next record. */
void broker__session_persist_failed(broker *b);

/* --- broker.c ------------------------------------------------------------- */

typedef struct pub_hook {
    uint8_t *topic;
    uint32_t len;
    broker_publish_hook fn;
    void *ctx;
} pub_hook;

typedef struct authorizer {
    broker_authorize_fn fn;
    void *ctx;
} authorizer;

typedef struct route_scratch route_scratch;

struct broker {
    uv_loop_t *loop;
    const broker_principal_ops *pops; /* the server's (broker_new) */
    broker_limits lim;
    topic_tree *tree;
    retain_store *retained;
    session_table sessions;
    client *clients;
    uint32_t n_connected;
    heap client_timers;
    heap session_timers;
    heap slow_timers; /* sessions with a full queue (flow.c) */
    uv_timer_t sweep;
    uv_timer_t resume_timer;
    client *resume_head;
    route_scratch *scratch;
    struct psess_state *psess; /* durable sessions (persist_session.c); NULL until used */
    pub_hook *hooks;
    uint32_t n_hooks;
    authorizer *authz;
    uint32_t n_authz;
    broker_disconnect_hook on_disconnect;
    void *on_disconnect_ctx;
    broker_authenticate_fn authn;
    void *authn_ctx;
    hashmap *authn_waiting; /* token -> client whose CONNECT is pending */
    uint64_t last_authn_token;
    broker_stats stats;
    uint64_t next_client_no;
    bool need_principals; /* broker_require_principals */
    bool shutting_down;
    /* The publisher whose publish hook is running (replies the hook
     * publishes are its messages, broker_publish), and a disconnect of it
     * asked for meanwhile (broker_disconnect_client), done when the hook
     * returns (publish.c). */
    client *hook_client;
    bool hook_kick;
    uint8_t hook_kick_rc;
    char *hook_kick_reason;  /* owned; NULL: none */
    broker_persist *persist; /* owned; NULL: nothing is durable (persist.c) */
    /* The cluster's routing (broker_cluster.h; cluster.c): no .forward
     * while none; no_forward while broker_publish routes a service's
     * message (never forwarded). */
    broker_cluster_hooks cluster;
    bool no_forward;
    broker_hold hold; /* held output (hold.c) */
    /* broker_set_registry_hooks (registry.c); all NULL: none */
    broker_registry_hooks registry;
    uint32_t node_tag; /* broker_set_node_tag; 0: none */
};

uint64_t broker_now(void);
const pub_hook *broker_find_hook(const broker *b, mqtt_bytes topic);
/* The authorizers' verdict on r: MQTT_RC_SUCCESS, or the first denial. */
uint8_t broker_authorize(const broker *b, const broker_auth_request *r);
/* Ingress of an application message: retained store update + routing. */
route_result broker_ingest(broker *b, msg *m, session *origin, client *publisher);

/* --- cluster.c --------------------------------------------------------------- */

/* A session's subscription to filter was added or removed: tell the cluster. */
static inline void broker__cluster_interest(broker *b, mqtt_bytes filter, bool added)
{
    if (b->cluster.interest) b->cluster.interest(b->cluster.ctx, filter, added);
}
/* Hand m to the cluster's forward hook (unless it must not leave this
 * node); returns the nodes it went to. */
uint32_t broker__cluster_forward(broker *b, const msg *m, client *publisher);
/* Does this node serve shared group (group, filter) for the message being routed? */
static inline bool broker__cluster_share_here(broker *b, mqtt_bytes group, mqtt_bytes filter)
{
    return !b->cluster.share_here || b->cluster.share_here(b->cluster.ctx, group, filter);
}

#endif
