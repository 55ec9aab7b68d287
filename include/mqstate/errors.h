/* libmqstate error codes.
 *
 * Every fallible call returns an mqs_err: MQS_OK (0) or a negative code.
 * Codes fall into three families:
 *   - local/transport failures (invalid argument, timeout, connection),
 *   - protocol failures (a response that violates the AIO RPC envelope or
 *     the RESP reply grammar, clock drift),
 *   - service errors: the state store answered `-ERR <text>` (protocol
 *     §3.5). Each known text has its own code; any other text maps to
 *     MQS_ERR_SERVICE_UNKNOWN and the text itself is kept in the result
 *     (mqs_result.error_text) so nothing the service said is lost.
 *
 * A "condition not met" answer (SET NX/NEX, VDEL value mismatch) is NOT an
 * error: it is reported in the result (applied == false, count == -1). */
#ifndef MQSTATE_ERRORS_H
#define MQSTATE_ERRORS_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mqs_err {
    MQS_OK = 0,

    /* --- local and transport ------------------------------------------- */
    MQS_ERR_INVALID = -1,         /* bad argument (NULL, empty key, bad option) */
    MQS_ERR_TIMEOUT = -2,         /* no response within the request timeout */
    MQS_ERR_NOT_CONNECTED = -3,   /* client not started / stopped */
    MQS_ERR_CONNECTION_LOST = -4, /* sent, then the connection dropped: outcome unknown */
    MQS_ERR_CONNECT = -5,         /* TCP/TLS connection could not be made */
    MQS_ERR_REFUSED = -6,         /* broker refused CONNECT (auth, client id, ...) */
    MQS_ERR_MQTT = -7,            /* libmosquitto reported another failure */
    MQS_ERR_CANCELLED = -8,       /* the client or object was destroyed while pending */
    MQS_ERR_NOT_HELD = -9,        /* lease/lock operation that needs the lease held */
    MQS_ERR_BUSY = -10,           /* object already doing this (e.g. two campaigns) */

    /* --- protocol (the response is not acceptable, §2.6 / §3.6) ---------- */
    MQS_ERR_PROTOCOL = -20,     /* malformed reply, missing/bad property, unexpected shape */
    MQS_ERR_STATUS = -21,       /* __stat missing or not 200 (RPC-layer error; __stMsg kept) */
    MQS_ERR_VERSION = -22,      /* __protVer present with a major version other than 1 */
    MQS_ERR_CLOCK_DRIFT = -23,  /* HLC would move more than the drift limit ahead (§4.4) */
    MQS_ERR_HLC_OVERFLOW = -24, /* HLC counter would overflow */

    /* --- service errors: `-ERR <text>` (§3.5) ----------------------------- */
    MQS_ERR_TIMESTAMP_SKEW = -40,      /* "the request timestamp is too far in the future; ..." */
    MQS_ERR_FENCING_REQUIRED = -41,    /* "a fencing token is required for this request" */
    MQS_ERR_FENCING_SKEW = -42,        /* "the request fencing token timestamp is too far in the future; ..." */
    MQS_ERR_FENCING_LOWER = -43,       /* "the request fencing token is a lower version than ..." */
    MQS_ERR_QUOTA = -44,               /* "the quota has been exceeded" */
    MQS_ERR_SYNTAX = -45,              /* "syntax error" */
    MQS_ERR_NOT_AUTHORIZED = -46,      /* "not authorized" */
    MQS_ERR_UNKNOWN_COMMAND = -47,     /* "unknown command" */
    MQS_ERR_WRONG_ARGC = -48,          /* "wrong number of arguments" */
    MQS_ERR_MISSING_TIMESTAMP = -49,   /* "missing timestamp" */
    MQS_ERR_MALFORMED_TIMESTAMP = -50, /* "malformed timestamp" */
    MQS_ERR_KEY_EMPTY = -51,           /* "the key length is zero" */
    MQS_ERR_SERVICE_UNKNOWN = -52,     /* any other -ERR text (see mqs_result.error_text) */
} mqs_err;

/* A short, static, human-readable description of err ("timeout",
 * "a fencing token is required for this request", ...). Never NULL; an
 * unknown value yields "unknown error". */
const char *mqs_strerror(mqs_err err);

/* True for the service-error family (-40..-52): the state store executed
 * nothing and answered `-ERR`. */
bool mqs_err_is_service(mqs_err err);

#ifdef __cplusplus
}
#endif

#endif
