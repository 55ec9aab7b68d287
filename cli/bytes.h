/* Byte strings for keys and values: never NUL-terminated text, because keys
 * and values are arbitrary bytes (NUL, CR, LF, 0xFF included). */
#ifndef MQSTATE_CLI_BYTES_H
#define MQSTATE_CLI_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cli_bytes {
    uint8_t *data;
    size_t len;
};

/* Copies `len` bytes into a fresh buffer (one spare NUL byte so text may be
 * printed with %s when it is known to contain none). False on no memory. */
bool cli_bytes_set(struct cli_bytes *b, const void *data, size_t len);
void cli_bytes_free(struct cli_bytes *b);

/* Reads a whole stream or file. `path` "-" means stdin. On failure prints
 * one line on stderr and returns false. */
bool cli_bytes_read_stream(struct cli_bytes *b, FILE *in, const char *what);
bool cli_bytes_read_file(struct cli_bytes *b, const char *path);

/* Writes the bytes exactly to `path` ("-" = stdout). One-line error. */
bool cli_bytes_write_file(const uint8_t *data, size_t len, const char *path);

/* Hexadecimal, two digits per byte. Decoding accepts either case and
 * rejects odd lengths and non-hex characters. */
bool cli_hex_decode(struct cli_bytes *out, const char *hex);
void cli_hex_print(FILE *out, const uint8_t *data, size_t len);

/* True if the bytes are well-formed UTF-8 (no overlongs, no surrogates). */
bool cli_utf8_valid(const uint8_t *data, size_t len);

#endif
