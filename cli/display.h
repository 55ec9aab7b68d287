/* Text output for people: keys and values on one line each, so bytes that
 * would break the line (or the terminal) are escaped. `get` to stdout is
 * the exception: it writes the value's exact bytes (output.c). */
#ifndef MQSTATE_CLI_DISPLAY_H
#define MQSTATE_CLI_DISPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* With `hex`, lower-case hexadecimal. Otherwise valid UTF-8 text as is,
 * and \n \r \t \\ and \xHH for control bytes, DEL and bytes that are not
 * part of valid UTF-8. */
void cli_display_bytes(FILE *out, const uint8_t *data, size_t len, bool hex);

#endif
