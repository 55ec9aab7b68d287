/* Printing pieces shared by the subcommands: key names in messages,
 * versions, and the start of a --json object for a key. */
#ifndef MQSTATE_CLI_RESULT_OUTPUT_H
#define MQSTATE_CLI_RESULT_OUTPUT_H

#include <stdio.h>

#include <mqstate/client.h>

#include "json.h"
#include "options.h"

/* "mqstate: <key>: <message>" on stderr, the key displayed as in text
 * output (escaped, or hexadecimal with --hex). */
void cli_key_message(const struct cli_options *opts, const struct cli_bytes *key, const char *message);

/* Formats a version (or "-" when there is none) into buf[MQS_HLC_STR_MAX]. */
const char *cli_version_text(bool has_version, const mqs_hlc *v, char *buf);

/* {"op":<op>,"key":...  — the caller adds fields and calls cli_json_end. */
void cli_json_key_begin(struct cli_json *j, const struct cli_options *opts, const char *op, const uint8_t *key,
                        size_t klen);

/* Adds "version" when the result has one. */
void cli_json_version(struct cli_json *j, bool has_version, const mqs_hlc *v);

/* Parses --ft. False (after a one-line message) if it is not a version. */
bool cli_fencing_token(const struct cli_options *opts, mqs_hlc *out);

#endif
