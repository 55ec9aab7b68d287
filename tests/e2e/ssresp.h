/* RESP bytes for the state store end-to-end tests, built and parsed by hand
 * from protocol §3 (independent of the project's store code), plus the HLC
 * string helpers of §4.1.
 *
 * Everything is binary-safe: arguments and values are (pointer, length). */
#ifndef MQS_E2E_SSRESP_H
#define MQS_E2E_SSRESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte string owned by the caller; release with ssb_free. */
struct ssb {
    uint8_t *data;
    size_t len;
    size_t cap;
};

void ssb_add(struct ssb *b, const void *data, size_t len);
void ssb_addf(struct ssb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ssb_free(struct ssb *b);

/* One request argument. */
struct ss_arg {
    const void *data;
    size_t len;
};

/* Argument from a C string (no NUL included). */
struct ss_arg ss_str(const char *s);

/* Appends `*argc\r\n` and one `$len\r\n<bytes>\r\n` per argument. */
void ss_resp_array(struct ssb *out, int argc, const struct ss_arg *argv);

/* Writes a printable form of bytes into out (C-style escapes, truncated with
 * "..." past size), for failure messages. */
void ss_escape(const void *data, size_t len, char *out, size_t size);

/* --- reply parsing (SCAN pages, notifications) ---------------------------- */

/* Reads a `$<n>\r\n<bytes>\r\n` bulk string at *pos; returns false on any
 * deviation. *data points into buf. */
bool ss_parse_bulk(const uint8_t *buf, size_t len, size_t *pos, const uint8_t **data, size_t *dlen);
/* Reads a `*<n>\r\n` array header at *pos. */
bool ss_parse_array_header(const uint8_t *buf, size_t len, size_t *pos, long *count);

/* --- HLC strings (§4.1) ---------------------------------------------------- */
struct ss_hlc {
    uint64_t wall;
    uint64_t counter;
    char node[64];
};

/* Strict parse: exactly three ':'-separated parts, decimal wall and counter,
 * non-empty node. */
bool ss_hlc_parse(const char *s, struct ss_hlc *out);
/* <0, 0, >0 comparing wall, then counter, then node bytes (§4.3). */
int ss_hlc_cmp(const struct ss_hlc *a, const struct ss_hlc *b);
/* Formats as the SDKs do: %015llu:%05u:<node>. */
void ss_hlc_format(const struct ss_hlc *h, char *out, size_t size);
/* Unix epoch milliseconds from the real-time clock. */
uint64_t ss_wall_ms(void);

#endif
