/* Minimal JSON object writer for --json (flat objects of strings, numbers
 * and booleans are all mqstate ever prints). */
#include "json.h"

#include <string.h>

#include "bytes.h"

void cli_json_begin(struct cli_json *j, FILE *out, bool hex)
{
    j->out = out;
    j->hex = hex;
    j->first = true;
    fputc('{', out);
}

static void field_name(struct cli_json *j, const char *name, const char *suffix)
{
    fprintf(j->out, "%s\"%s%s\":", j->first ? "" : ",", name, suffix);
    j->first = false;
}

/* Escapes as RFC 8259 requires; the bytes are known to be valid UTF-8. */
static void quoted(FILE *out, const uint8_t *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (c < 0x20 || c == 0x7F) fprintf(out, "\\u%04x", c);
            else fputc(c, out);
        }
    }
    fputc('"', out);
}

static void base64(FILE *out, const uint8_t *data, size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputc('"', out);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t n = (uint32_t)data[i] << 16;
        if (i + 1 < len) n |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len) n |= data[i + 2];
        fputc(alphabet[n >> 18 & 63], out);
        fputc(alphabet[n >> 12 & 63], out);
        fputc(i + 1 < len ? alphabet[n >> 6 & 63] : '=', out);
        fputc(i + 2 < len ? alphabet[n & 63] : '=', out);
    }
    fputc('"', out);
}

void cli_json_string(struct cli_json *j, const char *name, const char *text)
{
    field_name(j, name, "");
    quoted(j->out, (const uint8_t *)text, strlen(text));
}

void cli_json_bytes(struct cli_json *j, const char *name, const uint8_t *data, size_t len)
{
    if (cli_utf8_valid(data, len)) {
        field_name(j, name, "");
        quoted(j->out, data, len);
    }
    if (j->hex) {
        field_name(j, name, "_hex");
        fputc('"', j->out);
        cli_hex_print(j->out, data, len);
        fputc('"', j->out);
    } else {
        field_name(j, name, "_base64");
        base64(j->out, data, len);
    }
}

void cli_json_int(struct cli_json *j, const char *name, long long v)
{
    field_name(j, name, "");
    fprintf(j->out, "%lld", v);
}

void cli_json_bool(struct cli_json *j, const char *name, bool v)
{
    field_name(j, name, "");
    fputs(v ? "true" : "false", j->out);
}

void cli_json_end(struct cli_json *j)
{
    fputs("}\n", j->out);
    fflush(j->out);
}
