/* The SCAN pager (§3.8, ADR 34): one request per page, serial, the opaque
 * continuation token kept inside the pager; a failed page is asked again. */
#include <stdlib.h>
#include <string.h>

#include "sdk_internal.h"
#include "util/alloc.h"

struct mqs_scan {
    mqs_client *c;
    uint8_t *pattern;
    size_t plen;
    uint8_t *token; /* NULL before the first page */
    size_t tlen;
    bool done;
    bool busy; /* an async page in flight */
    mqs_result_cb cb;
    void *ud;
};

mqs_scan *mqs_scan_new(mqs_client *c, const void *pattern, size_t plen)
{
    if (!c || !pattern || !plen) return NULL;
    mqs_scan *s = xcalloc(1, sizeof *s);
    s->c = c;
    s->pattern = xmemdup(pattern, plen);
    s->plen = plen;
    return s;
}

void mqs_scan_free(mqs_scan *s)
{
    if (!s) return;
    free(s->pattern);
    free(s->token);
    free(s);
}

bool mqs_scan_done(const mqs_scan *s) { return s->done; }

/* Keep the next token (the hidden element after the keys) or finish. */
static void advance(mqs_scan *s, const mqs_result *r)
{
    if (r->err != MQS_OK) return;
    free(s->token);
    s->token = NULL;
    s->tlen = 0;
    if (r->more) {
        s->token = xmemdup(r->keys[r->nkeys].data, r->keys[r->nkeys].len);
        s->tlen = r->keys[r->nkeys].len;
    } else {
        s->done = true;
    }
}

static sdk_req page_req(mqs_scan *s, resp_slice *argv)
{
    argv[0] = (resp_slice){(const uint8_t *)"SCAN", 4};
    argv[1] = (resp_slice){s->pattern, s->plen};
    argv[2] = (resp_slice){s->token, s->tlen};
    return (sdk_req){SDK_OP_SCAN, argv, s->token ? 3 : 2, NULL, false};
}

mqs_err mqs_scan_next(mqs_scan *s, mqs_result *out)
{
    memset(out, 0, sizeof *out);
    if (!s || s->done || s->busy) return out->err = s && s->busy ? MQS_ERR_BUSY : MQS_ERR_INVALID;
    resp_slice argv[3];
    sdk_req req = page_req(s, argv);
    mqs_err err = sdk_request_sync(s->c, &req, out);
    advance(s, out);
    return err;
}

static void page_done(mqs_client *c, const mqs_result *r, void *ud)
{
    mqs_scan *s = ud;
    advance(s, r);
    s->busy = false;
    if (s->cb) s->cb(c, r, s->ud);
}

mqs_err mqs_scan_next_async(mqs_scan *s, mqs_result_cb cb, void *ud)
{
    if (!s || s->done) return MQS_ERR_INVALID;
    if (s->busy) return MQS_ERR_BUSY;
    resp_slice argv[3];
    sdk_req req = page_req(s, argv);
    s->busy = true;
    s->cb = cb;
    s->ud = ud;
    mqs_err err = sdk_request_async(s->c, &req, page_done, s);
    if (err != MQS_OK) s->busy = false;
    return err;
}
