/* The state store commands (§3.2): argument vectors in the SDKs' exact
 * form (upper-case words, condition before PX), sync and async. */
#include <stdio.h>
#include <string.h>

#include "sdk_internal.h"

static resp_slice S(const void *p, size_t n) { return (resp_slice){p, n}; }
static resp_slice W(const char *word) { return (resp_slice){(const uint8_t *)word, strlen(word)}; }

/* Build SET argv into argv[6] (px digits in pxbuf); returns argc. */
static size_t set_argv(resp_slice *argv, const void *key, size_t klen, const void *value, size_t vlen,
                       const mqs_set_opts *o, char *pxbuf, size_t pxsize)
{
    size_t n = 0;
    argv[n++] = W("SET");
    argv[n++] = S(key, klen);
    argv[n++] = S(value ? value : "", vlen);
    if (o && o->cond == MQS_SET_NX) argv[n++] = W("NX");
    if (o && o->cond == MQS_SET_NEX) argv[n++] = W("NEX");
    if (o && o->px_ms) {
        snprintf(pxbuf, pxsize, "%llu", (unsigned long long)o->px_ms);
        argv[n++] = W("PX");
        argv[n++] = W(pxbuf);
    }
    return n;
}

#define SET_REQ(req)                                                           \
    resp_slice argv[6];                                                        \
    char px[24];                                                               \
    size_t argc = set_argv(argv, key, klen, value, vlen, opts, px, sizeof px); \
    sdk_req req = {SDK_OP_SET, argv, argc, opts ? opts->fencing_token : NULL, opts ? opts->persist : false}

static bool bad(const mqs_client *c, const void *key, size_t klen) { return !c || !key || klen == 0; }

static mqs_err invalid(mqs_result *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (out) out->err = MQS_ERR_INVALID;
    return MQS_ERR_INVALID;
}

mqs_err mqs_set(mqs_client *c, const void *key, size_t klen, const void *value, size_t vlen, const mqs_set_opts *opts,
                mqs_result *out)
{
    if (bad(c, key, klen) || (vlen && !value) || (opts && opts->cond > MQS_SET_NEX)) return invalid(out);
    SET_REQ(req);
    return sdk_request_sync(c, &req, out);
}

mqs_err mqs_set_async(mqs_client *c, const void *key, size_t klen, const void *value, size_t vlen,
                      const mqs_set_opts *opts, mqs_result_cb cb, void *ud)
{
    if (bad(c, key, klen) || (vlen && !value) || (opts && opts->cond > MQS_SET_NEX)) return MQS_ERR_INVALID;
    SET_REQ(req);
    return sdk_request_async(c, &req, cb, ud);
}

mqs_err mqs_get(mqs_client *c, const void *key, size_t klen, mqs_result *out)
{
    if (bad(c, key, klen)) return invalid(out);
    resp_slice argv[] = {W("GET"), S(key, klen)};
    sdk_req req = {SDK_OP_GET, argv, 2, NULL, false};
    return sdk_request_sync(c, &req, out);
}

mqs_err mqs_get_async(mqs_client *c, const void *key, size_t klen, mqs_result_cb cb, void *ud)
{
    if (bad(c, key, klen)) return MQS_ERR_INVALID;
    resp_slice argv[] = {W("GET"), S(key, klen)};
    sdk_req req = {SDK_OP_GET, argv, 2, NULL, false};
    return sdk_request_async(c, &req, cb, ud);
}

mqs_err mqs_del(mqs_client *c, const void *key, size_t klen, const mqs_del_opts *opts, mqs_result *out)
{
    if (bad(c, key, klen)) return invalid(out);
    resp_slice argv[] = {W("DEL"), S(key, klen)};
    sdk_req req = {SDK_OP_DEL, argv, 2, opts ? opts->fencing_token : NULL, false};
    return sdk_request_sync(c, &req, out);
}

mqs_err mqs_del_async(mqs_client *c, const void *key, size_t klen, const mqs_del_opts *opts, mqs_result_cb cb, void *ud)
{
    if (bad(c, key, klen)) return MQS_ERR_INVALID;
    resp_slice argv[] = {W("DEL"), S(key, klen)};
    sdk_req req = {SDK_OP_DEL, argv, 2, opts ? opts->fencing_token : NULL, false};
    return sdk_request_async(c, &req, cb, ud);
}

mqs_err mqs_vdel(mqs_client *c, const void *key, size_t klen, const void *value, size_t vlen, const mqs_del_opts *opts,
                 mqs_result *out)
{
    if (bad(c, key, klen) || (vlen && !value)) return invalid(out);
    resp_slice argv[] = {W("VDEL"), S(key, klen), S(value ? value : "", vlen)};
    sdk_req req = {SDK_OP_VDEL, argv, 3, opts ? opts->fencing_token : NULL, false};
    return sdk_request_sync(c, &req, out);
}

mqs_err mqs_vdel_async(mqs_client *c, const void *key, size_t klen, const void *value, size_t vlen,
                       const mqs_del_opts *opts, mqs_result_cb cb, void *ud)
{
    if (bad(c, key, klen) || (vlen && !value)) return MQS_ERR_INVALID;
    resp_slice argv[] = {W("VDEL"), S(key, klen), S(value ? value : "", vlen)};
    sdk_req req = {SDK_OP_VDEL, argv, 3, opts ? opts->fencing_token : NULL, false};
    return sdk_request_async(c, &req, cb, ud);
}

mqs_err mqs_cluster_status(mqs_client *c, bool digest, mqs_result *out)
{
    if (!c) return invalid(out);
    resp_slice argv[] = {W("CLUSTER"), W("STATUS"), W("DIGEST")};
    sdk_req req = {SDK_OP_ADMIN, argv, digest ? 3 : 2, NULL, false};
    return sdk_request_sync(c, &req, out);
}

mqs_err mqs_cluster_member(mqs_client *c, bool add, uint32_t id, mqs_result *out)
{
    if (!c || id == 0) return invalid(out);
    char num[16];
    snprintf(num, sizeof num, "%u", id);
    resp_slice argv[] = {W("CLUSTER"), W(add ? "ADD" : "REMOVE"), W(num)};
    sdk_req req = {SDK_OP_OK, argv, 3, NULL, false};
    return sdk_request_sync(c, &req, out);
}
