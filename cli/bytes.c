/* Byte strings, whole-file input/output, hexadecimal and UTF-8 checks. */
#include "bytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool cli_bytes_set(struct cli_bytes *b, const void *data, size_t len)
{
    uint8_t *copy = malloc(len + 1);
    if (!copy) return false;
    if (len) memcpy(copy, data, len);
    copy[len] = 0;
    free(b->data);
    b->data = copy;
    b->len = len;
    return true;
}

void cli_bytes_free(struct cli_bytes *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

bool cli_bytes_read_stream(struct cli_bytes *b, FILE *in, const char *what)
{
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap + 1);
    while (buf) {
        len += fread(buf + len, 1, cap - len, in);
        if (len < cap) break;
        cap *= 2;
        uint8_t *bigger = realloc(buf, cap + 1);
        if (!bigger) free(buf);
        buf = bigger;
    }
    if (!buf) {
        fprintf(stderr, "mqstate: %s: out of memory\n", what);
        return false;
    }
    if (ferror(in)) {
        fprintf(stderr, "mqstate: cannot read %s: %s\n", what, strerror(errno));
        free(buf);
        return false;
    }
    buf[len] = 0;
    free(b->data);
    b->data = buf;
    b->len = len;
    return true;
}

bool cli_bytes_read_file(struct cli_bytes *b, const char *path)
{
    if (strcmp(path, "-") == 0) return cli_bytes_read_stream(b, stdin, "standard input");
    FILE *in = fopen(path, "rb");
    if (!in) {
        fprintf(stderr, "mqstate: cannot open %s: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = cli_bytes_read_stream(b, in, path);
    fclose(in);
    return ok;
}

bool cli_bytes_write_file(const uint8_t *data, size_t len, const char *path)
{
    bool to_stdout = strcmp(path, "-") == 0;
    FILE *out = to_stdout ? stdout : fopen(path, "wb");
    if (!out) {
        fprintf(stderr, "mqstate: cannot create %s: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = fwrite(data, 1, len, out) == len;
    ok = (to_stdout ? fflush(out) : fclose(out)) == 0 && ok;
    if (!ok) fprintf(stderr, "mqstate: cannot write %s: %s\n", to_stdout ? "standard output" : path, strerror(errno));
    return ok;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool cli_hex_decode(struct cli_bytes *out, const char *hex)
{
    size_t n = strlen(hex);
    if (n % 2) return false;
    uint8_t *buf = malloc(n / 2 + 1);
    if (!buf) return false;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(buf);
            return false;
        }
        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    buf[n / 2] = 0;
    free(out->data);
    out->data = buf;
    out->len = n / 2;
    return true;
}

void cli_hex_print(FILE *out, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) fprintf(out, "%02x", data[i]);
}

/* Length of the UTF-8 sequence starting at p (0 if malformed). */
static size_t utf8_sequence(const uint8_t *p, size_t left)
{
    if (p[0] < 0x80) return 1;
    size_t n;
    uint32_t cp;
    if ((p[0] & 0xE0) == 0xC0) {
        n = 2;
        cp = p[0] & 0x1F;
    } else if ((p[0] & 0xF0) == 0xE0) {
        n = 3;
        cp = p[0] & 0x0F;
    } else if ((p[0] & 0xF8) == 0xF0) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n > left) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    static const uint32_t min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_length[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

bool cli_utf8_valid(const uint8_t *data, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_sequence(data + i, len - i);
        if (!n) return false;
        i += n;
    }
    return true;
}
