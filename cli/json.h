/* --json output: one JSON object per line, one line per result or
 * notification, flushed at once so a script reading a pipe sees each
 * notification as it happens.
 *
 * Byte strings (keys, values) are binary-safe: a field "value" holds the
 * text when the bytes are valid UTF-8, and "value_base64" (or "value_hex"
 * with --hex) always holds the exact bytes. Scripts that must be exact use
 * the encoded field; people read the text one. */
#ifndef MQSTATE_CLI_JSON_H
#define MQSTATE_CLI_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct cli_json {
    FILE *out;
    bool hex;   /* encode byte strings as _hex instead of _base64 */
    bool first; /* no field written yet in the current object */
};

void cli_json_begin(struct cli_json *j, FILE *out, bool hex);
void cli_json_string(struct cli_json *j, const char *name, const char *text);
void cli_json_bytes(struct cli_json *j, const char *name, const uint8_t *data, size_t len);
void cli_json_int(struct cli_json *j, const char *name, long long v);
void cli_json_bool(struct cli_json *j, const char *name, bool v);
void cli_json_end(struct cli_json *j);

#endif
