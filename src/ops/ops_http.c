/* The operations HTTP endpoint (ops_http.h). */
#include "ops/ops_http.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "ops/expo.h"
#include "ops/http_parse.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define TAG_LEN 32
#define CRED_MAX 512 /* decoded "user:password" */
/* Output past this is not added to: the connection is not read until it
 * drains (a client that asks and never reads holds one exposition). */
#define BACKLOG_HIGH (256u * 1024)
#define BACKLOG_LOW (16u * 1024)

const int ops_http_codes[OPS_HTTP_CODES] = {200, 400, 401, 404, 405, 431, 503};

typedef struct ops_conn ops_conn;
typedef struct auth_job auth_job;

/* In the connection's user area (net.h); owned by the net layer. */
struct ops_conn {
    ops_http *h;
    net_conn *c;
    ops_conn *prev, *next; /* every open connection, for the idle sweep */
    ops_conn *wait_next;   /* waiting for the password check */
    uint64_t since_ms;     /* accept, last response or drain: the idle clock */
    size_t len;            /* bytes in `in` */
    bool closing;
    bool waiting_auth;   /* queued or in the password check: not read, not parsed */
    int8_t auth_verdict; /* for the head at the start of `in`: 1 passed, -1 refused, 0 not checked */
    bool over_backlog;   /* not read until on_drain */
    uint8_t in[OPS_HTTP_MAX_HEAD];
};

struct auth_job {
    uv_work_t req;
    ops_http *h;
    ops_conn *conn; /* NULL once the connection closed */
    passwd_hash hash;
    char pw[CRED_MAX];
    size_t pwlen;
    uint8_t tag[TAG_LEN];
    bool user_ok, ok;
};

struct ops_http {
    uv_loop_t *loop;
    net *n;
    net_listener *l;
    uv_timer_t sweep;
    ops_http_source src;
    unsigned max_conns, idle_ms;
    unsigned nconns;
    ops_conn *conns;
    ops_conn *wait_head, *wait_tail;
    auth_job *job; /* the one password check in flight */
    bool auth;
    char *username;
    passwd_hash password;
    uint8_t tag_key[TAG_LEN]; /* random: tags mean nothing elsewhere */
    uint8_t ok_tag[TAG_LEN];  /* HMAC of the last credentials that passed */
    bool has_ok;
    bool stopping;
    ops_http_stats stats;
};

static void process(ops_conn *oc);

/* --- responses ----------------------------------------------------------- */

static const char *reason_of(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    default: return "Service Unavailable";
    }
}

static void count_code(ops_http *h, int code)
{
    for (size_t i = 0; i < OPS_HTTP_CODES; i++)
        if (ops_http_codes[i] == code) h->stats.responses[i]++;
}

/* One whole response; `close` ends the connection after it. */
static void respond(ops_conn *oc, int code, const char *ctype, const void *body, size_t blen, bool head_only,
                    bool close, const char *extra)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
                     "%sConnection: %s\r\n\r\n",
                     code, reason_of(code), ctype, blen, extra ? extra : "", close ? "close" : "keep-alive");
    count_code(oc->h, code);
    net_conn_write(oc->c, hdr, (size_t)n);
    if (!head_only && blen) net_conn_write(oc->c, body, blen);
    oc->since_ms = clock_now_ms();
    if (close) {
        oc->closing = true;
        net_conn_close(oc->c);
    } else if (net_conn_over_backlog(oc->c)) {
        oc->over_backlog = true;
        net_conn_pause_read(oc->c);
    }
}

static void respond_text(ops_conn *oc, int code, const char *text, bool head_only, bool close, const char *extra)
{
    respond(oc, code, "text/plain; charset=utf-8", text, strlen(text), head_only, close, extra);
}

/* --- basic authentication ------------------------------------------------ */

static void tag_of(const ops_http *h, http_slice user, http_slice pw, uint8_t *tag)
{
    uint8_t msg[CRED_MAX + 1];
    size_t n = 0;
    memcpy(msg, user.p, user.len);
    n += user.len;
    msg[n++] = 0;
    memcpy(msg + n, pw.p, pw.len);
    n += pw.len;
    unsigned int tl = TAG_LEN;
    HMAC(EVP_sha256(), h->tag_key, sizeof h->tag_key, msg, n, tag, &tl);
    OPENSSL_cleanse(msg, n);
}

static void job_work(uv_work_t *req)
{
    auth_job *j = req->data;
    bool matched = passwd_hash_verify(&j->hash, j->pw, j->pwlen); /* slow even for a wrong user */
    j->ok = j->user_ok && matched;
}

static void start_next_job(ops_http *h);

static void job_after(uv_work_t *req, int status)
{
    auth_job *j = req->data;
    ops_http *h = j->h;
    ops_conn *oc = j->conn;
    bool ok = status == 0 && j->ok;
    h->job = NULL;
    if (ok) {
        memcpy(h->ok_tag, j->tag, TAG_LEN);
        h->has_ok = true;
    }
    OPENSSL_cleanse(j, sizeof *j);
    free(j);
    if (oc) {
        oc->waiting_auth = false;
        oc->auth_verdict = ok ? 1 : -1;
        if (!oc->over_backlog) net_conn_resume_read(oc->c);
        process(oc);
    }
    start_next_job(h);
}

/* The Authorization of the head at the start of oc->in (parsed again:
 * the bytes stayed where they were while the connection waited). */
static bool head_credentials(ops_conn *oc, char *cred, http_slice *user, http_slice *pw)
{
    http_request r;
    if (http_parse_request(oc->in, oc->len, OPS_HTTP_MAX_HEAD, &r) != HTTP_PARSE_OK) return false;
    return http_parse_basic(r.authorization, cred, CRED_MAX, user, pw);
}

/* A verdict reached without the thread pool: the connection's loop
 * (process) picks it up, so nothing recurses. */
static void verdict_now(ops_conn *oc, int verdict)
{
    oc->waiting_auth = false;
    oc->auth_verdict = verdict;
    if (!oc->over_backlog) net_conn_resume_read(oc->c);
}

static void start_next_job(ops_http *h)
{
    while (!h->job && h->wait_head && !h->stopping) {
        ops_conn *oc = h->wait_head;
        h->wait_head = oc->wait_next;
        if (!h->wait_head) h->wait_tail = NULL;
        oc->wait_next = NULL;
        char cred[CRED_MAX];
        http_slice user, pw;
        if (!head_credentials(oc, cred, &user, &pw)) { /* cannot happen: checked before queueing */
            verdict_now(oc, -1);
            continue;
        }
        auth_job *j = xcalloc(1, sizeof *j);
        j->req.data = j;
        j->h = h;
        j->conn = oc;
        j->hash = h->password;
        memcpy(j->pw, pw.p, pw.len);
        j->pwlen = pw.len;
        j->user_ok = user.len == strlen(h->username) && CRYPTO_memcmp(user.p, h->username, user.len) == 0;
        tag_of(h, user, pw, j->tag);
        OPENSSL_cleanse(cred, sizeof cred);
        h->job = j;
        if (uv_queue_work(h->loop, &j->req, job_work, job_after) != 0) { /* only on bad arguments */
            h->job = NULL;
            OPENSSL_cleanse(j, sizeof *j);
            free(j);
            verdict_now(oc, -1);
        }
    }
}

static void unqueue(ops_conn *oc)
{
    ops_http *h = oc->h;
    if (h->job && h->job->conn == oc) h->job->conn = NULL;
    ops_conn **pp = &h->wait_head, *prev = NULL;
    while (*pp && *pp != oc) {
        prev = *pp;
        pp = &(*pp)->wait_next;
    }
    if (!*pp) return;
    *pp = oc->wait_next;
    if (h->wait_tail == oc) h->wait_tail = prev;
    oc->wait_next = NULL;
}

/* /metrics with authentication configured. Returns true when the request
 * may be served now; otherwise a 401 was sent or the check was queued. */
static bool authorized(ops_conn *oc, const http_request *r)
{
    ops_http *h = oc->h;
    int verdict = oc->auth_verdict;
    oc->auth_verdict = 0;
    if (!h->auth || verdict > 0) return true;
    char cred[CRED_MAX];
    http_slice user, pw;
    if (verdict < 0 || !http_parse_basic(r->authorization, cred, CRED_MAX, &user, &pw)) {
        respond_text(oc, 401, "authentication required\n", r->method == HTTP_METHOD_HEAD, !r->keep_alive,
                     "WWW-Authenticate: Basic realm=\"mqstated\", charset=\"UTF-8\"\r\n");
        return false;
    }
    uint8_t tag[TAG_LEN];
    tag_of(h, user, pw, tag);
    OPENSSL_cleanse(cred, sizeof cred);
    if (h->has_ok && CRYPTO_memcmp(tag, h->ok_tag, TAG_LEN) == 0) return true;
    oc->waiting_auth = true;
    net_conn_pause_read(oc->c);
    if (h->wait_tail) h->wait_tail->wait_next = oc;
    else h->wait_head = oc;
    h->wait_tail = oc;
    start_next_job(h);
    /* A verdict reached without the thread pool (verdict_now) is
     * answered now: nothing else would wake this head. */
    if (!oc->waiting_auth) return authorized(oc, r);
    return false;
}

/* --- requests ------------------------------------------------------------ */

static bool path_is(const http_request *r, const char *p) { return mem_eq(r->path.p, r->path.len, p, strlen(p)); }

static void serve_metrics(ops_conn *oc, const http_request *r, bool close)
{
    ops_http *h = oc->h;
    buf body = {0};
    h->src.metrics(h->src.ctx, &body);
    respond(oc, 200, EXPO_CONTENT_TYPE, body.data, body.len, r->method == HTTP_METHOD_HEAD, close, NULL);
    buf_free(&body);
}

/* Answer the complete head at the start of oc->in. Returns false when the
 * answer has to wait (the password check). */
static bool handle(ops_conn *oc, const http_request *r)
{
    bool head = r->method == HTTP_METHOD_HEAD;
    /* A body is never read: answer, then close rather than parse it. */
    bool close = !r->keep_alive || r->has_body;
    bool known = path_is(r, "/metrics") || path_is(r, "/healthz") || path_is(r, "/readyz");
    if (!known) {
        respond_text(oc, 404, "not found\n", head, close, NULL);
    } else if (r->method == HTTP_METHOD_OTHER) {
        respond_text(oc, 405, "method not allowed\n", false, close, "Allow: GET, HEAD\r\n");
    } else if (path_is(r, "/healthz")) {
        respond_text(oc, 200, "ok\n", head, close, NULL); /* answered by the loop, so the loop runs */
    } else if (path_is(r, "/readyz")) {
        buf report = {0};
        bool ready = ops_ready_check(oc->h->src.ready, &report);
        respond(oc, ready ? 200 : 503, "text/plain; charset=utf-8", report.data, report.len, head, close, NULL);
        buf_free(&report);
    } else {
        if (!authorized(oc, r)) return !oc->waiting_auth;
        serve_metrics(oc, r, close);
    }
    return true;
}

/* Parse and answer the heads in oc->in, in order, until one is
 * incomplete, the connection waits or closes. */
static void process(ops_conn *oc)
{
    while (!oc->closing && !oc->waiting_auth && !oc->over_backlog && oc->len) {
        http_request r;
        http_parse_status st = http_parse_request(oc->in, oc->len, OPS_HTTP_MAX_HEAD, &r);
        if (st == HTTP_PARSE_NEED_MORE) return;
        if (st == HTTP_PARSE_TOO_LARGE) {
            respond_text(oc, 431, "request head over 8192 bytes\n", false, true, NULL);
            return;
        }
        if (st == HTTP_PARSE_BAD) {
            respond_text(oc, 400, "malformed request\n", false, true, NULL);
            return;
        }
        if (!handle(oc, &r)) return; /* the head stays in `in` for the verdict */
        if (oc->closing) return;
        memmove(oc->in, oc->in + r.head_len, oc->len - r.head_len);
        oc->len -= r.head_len;
    }
}

/* --- connections --------------------------------------------------------- */

static bool on_accept(void *ctx, net_conn *c, void *user)
{
    ops_http *h = ctx;
    if (h->stopping || h->nconns >= h->max_conns) {
        h->stats.connections_refused++;
        return false;
    }
    ops_conn *oc = user;
    oc->h = h;
    oc->c = c;
    oc->since_ms = clock_now_ms();
    oc->next = h->conns;
    if (h->conns) h->conns->prev = oc;
    h->conns = oc;
    h->nconns++;
    return true;
}

static void on_read(void *user, const uint8_t *data, size_t len)
{
    ops_conn *oc = user;
    while (len && !oc->closing) {
        size_t room = sizeof oc->in - oc->len;
        if (oc->waiting_auth || oc->over_backlog) {
            /* Not parsed now; keep what fits, or end a client that
             * pipelines more than a whole head ahead. */
            if (len > room) {
                oc->closing = true;
                net_conn_close(oc->c);
                return;
            }
            memcpy(oc->in + oc->len, data, len);
            oc->len += len;
            return;
        }
        size_t n = len < room ? len : room;
        memcpy(oc->in + oc->len, data, n);
        oc->len += n;
        data += n;
        len -= n;
        process(oc);
    }
}

static void on_drain(void *user)
{
    ops_conn *oc = user;
    if (!oc->over_backlog || oc->closing) return;
    oc->over_backlog = false;
    oc->since_ms = clock_now_ms();
    if (!oc->waiting_auth) net_conn_resume_read(oc->c);
    process(oc);
}

static void on_close(void *user, int error)
{
    (void)error;
    ops_conn *oc = user;
    ops_http *h = oc->h;
    unqueue(oc);
    if (oc->prev) oc->prev->next = oc->next;
    else h->conns = oc->next;
    if (oc->next) oc->next->prev = oc->prev;
    h->nconns--;
}

static const net_conn_callbacks conn_cbs = {on_read, on_close, on_drain, NULL};

/* Every second: close connections idle (or slow to send a head, or slow
 * to read their answer) for idle_timeout. */
static void on_sweep(uv_timer_t *t)
{
    ops_http *h = t->data;
    uint64_t now = clock_now_ms();
    for (ops_conn *oc = h->conns; oc; oc = oc->next) {
        if (oc->closing || oc->waiting_auth || now - oc->since_ms < h->idle_ms) continue;
        oc->closing = true;
        net_conn_close(oc->c);
    }
}

/* --- lifecycle ----------------------------------------------------------- */

int ops_http_new(uv_loop_t *loop, const ops_http_config *cfg, const ops_http_source *src, ops_http **out, char *err,
                 size_t errlen)
{
    *out = NULL;
    if (!cfg->max_connections || !cfg->idle_timeout_s || !src->metrics || !src->ready ||
        (cfg->username && !cfg->password)) {
        snprintf(err, errlen, "metrics: invalid endpoint settings");
        return -1;
    }
    ops_http *h = xcalloc(1, sizeof *h);
    h->loop = loop;
    h->src = *src;
    h->max_conns = cfg->max_connections;
    h->idle_ms = cfg->idle_timeout_s * 1000u;
    if (cfg->username) {
        h->auth = true;
        h->username = xstrdup(cfg->username);
        h->password = *cfg->password;
        if (RAND_bytes(h->tag_key, sizeof h->tag_key) != 1) {
            snprintf(err, errlen, "metrics: no randomness for the credential cache");
            free(h->username);
            free(h);
            return -1;
        }
    }
    *out = h;
    h->n = net_new(loop);
    net_set_backlog_marks(h->n, BACKLOG_HIGH, BACKLOG_LOW);
    h->l = net_listen(h->n, cfg->bind, cfg->port, sizeof(ops_conn), on_accept, &conn_cbs, h);
    uv_timer_init(loop, &h->sweep);
    h->sweep.data = h;
    if (!h->l) {
        snprintf(err, errlen, "metrics: cannot listen on %s port %u (see above)", cfg->bind, cfg->port);
        ops_http_shutdown(h);
        return -1;
    }
    if (cfg->tls) net_listener_set_tls(h->l, cfg->tls);
    uv_timer_start(&h->sweep, on_sweep, 1000, 1000);
    return 0;
}

uint16_t ops_http_port(const ops_http *h) { return h->l ? net_listener_port(h->l) : 0; }

void ops_http_get_stats(const ops_http *h, ops_http_stats *out) { *out = h->stats; }

static void on_timer_closed(uv_handle_t *t) { (void)t; }

void ops_http_shutdown(ops_http *h)
{
    if (!h || h->stopping) return;
    h->stopping = true;
    h->wait_head = h->wait_tail = NULL;
    uv_close((uv_handle_t *)&h->sweep, on_timer_closed);
    net_shutdown(h->n);
}

void ops_http_free(ops_http *h)
{
    if (!h) return;
    net_free(h->n);
    if (h->username) free(h->username);
    OPENSSL_cleanse(&h->password, sizeof h->password);
    free(h);
}
