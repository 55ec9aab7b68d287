/* The state store service tests: a fixture that drives
 * store_service_execute with hand-built RESP payloads and user properties
 * at a manually advanced wall clock, records every notification, and can
 * install a key-prefix authorizer. Groups are run by test_service_main.c. */
#ifndef MQS_TEST_SERVICE_TESTS_H
#define MQS_TEST_SERVICE_TESTS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ssproto/hlc.h"
#include "ssproto/resp.h"
#include "store/service.h"
#include "util/buf.h"

int run_service_reply_tests(void);
int run_service_time_tests(void);
int run_service_notify_tests(void);
int run_service_scan_tests(void);

/* 2023-10-03T23:07:05Z, the Learn worked example's wall clock. */
#define T0 UINT64_C(1696374425000)

typedef struct note {
    buf client, topic, payload, version;
} note;

typedef struct fx {
    store_service *s;
    store_reply r;
    uint64_t now;
    const char *client; /* MQTT client id of the requester */
    char ts_text[64];   /* backing store of fx_ts() */
    note *notes;
    size_t nnotes, notes_cap;
    /* Authorizer (installed by fx_deny): deny keys starting with
     * deny_prefix for deny_access; remember the last call. */
    const char *deny_prefix;
    store_access deny_access;
    bool deny_both;
    size_t auth_calls;
    store_access last_access;
    buf last_principal;
} fx;

/* A fixture with the default config changed by `cfg` (may be NULL). */
fx *fx_new(void (*cfg)(store_config *c));
void fx_free(fx *f);
int fx_setup(void **state); /* default config, *state = fx */
int fx_teardown(void **state);

/* A valid client __ts: wall = now + delta_ms, counter 0, node "client". */
const char *fx_ts(fx *f, int64_t delta_ms);

/* Execute argv (C strings) with the given __ts / __ft / __protVer
 * (NULL = property absent). */
void fx_do(fx *f, const char *ts, const char *ft, const char *pv, size_t argc, const char *const *argv);
/* Same with binary arguments. */
void fx_dob(fx *f, const char *ts, const char *ft, const resp_slice *argv, size_t argc);
/* A raw payload (not necessarily valid RESP). */
void fx_raw(fx *f, const char *ts, const void *payload, size_t n);

#define FX_NARGS(...) (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
/* RUN with a fresh, valid __ts; RUNT with an explicit __ts and __ft. */
#define RUN(f, ...) fx_do((f), fx_ts((f), 0), NULL, NULL, FX_NARGS(__VA_ARGS__), (const char *const[]){__VA_ARGS__})
#define RUNT(f, ts, ft, ...) fx_do((f), (ts), (ft), NULL, FX_NARGS(__VA_ARGS__), (const char *const[]){__VA_ARGS__})

/* The reply is status 200 and exactly `want` (C string / n bytes). */
void fx_expect(fx *f, const char *want);
void fx_expect_n(fx *f, const void *want, size_t n);
void fx_expect_err(fx *f, resp_error e);
/* The reply carries a __ts (parsed into *out) / carries none. */
hlc fx_version(fx *f);
void fx_expect_no_version(fx *f);

/* Install the prefix authorizer. */
void fx_deny(fx *f, const char *prefix, store_access access, bool both);

/* Notification i equals (client, key, payload) and its version parses. */
void fx_expect_note(fx *f, size_t i, const char *client, const void *key, size_t klen, const void *payload,
                    size_t plen);
hlc fx_note_version(fx *f, size_t i);
void fx_clear_notes(fx *f);

#define NOTIFY_DELETE "*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n"

#endif
