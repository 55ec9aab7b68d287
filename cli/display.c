/* Escaped one-line rendering of keys and values. */
#include "display.h"

#include "bytes.h"

static void escaped_byte(FILE *out, uint8_t c)
{
    switch (c) {
    case '\n': fputs("\\n", out); break;
    case '\r': fputs("\\r", out); break;
    case '\t': fputs("\\t", out); break;
    case '\\': fputs("\\\\", out); break;
    default: fprintf(out, "\\x%02x", c);
    }
}

/* Length of the valid UTF-8 sequence at p, 0 if p does not start one. */
static size_t utf8_at(const uint8_t *p, size_t left)
{
    size_t n = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || n > left) return 0;
    return cli_utf8_valid(p, n) ? n : 0;
}

void cli_display_bytes(FILE *out, const uint8_t *data, size_t len, bool hex)
{
    if (hex) {
        cli_hex_print(out, data, len);
        return;
    }
    size_t i = 0;
    while (i < len) {
        uint8_t c = data[i];
        size_t n = utf8_at(data + i, len - i);
        if (n == 0 || c < 0x20 || c == 0x7F || c == '\\') {
            escaped_byte(out, c);
            i++;
            continue;
        }
        fwrite(data + i, 1, n, out);
        i += n;
    }
}
