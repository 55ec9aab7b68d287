/* Sets one option from its text value, with range checks, so that a bad
 * number is a usage error naming the option rather than a surprise later. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "option_parse.h"

static int bad_value(const char *arg, const char *value, const char *expected)
{
    fprintf(stderr, "mqstate: %s: '%s' is not %s\n", arg, value, expected);
    return CLI_EXIT_USAGE;
}

static bool parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    if (text[0] < '0' || text[0] > '9') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < min || v > max) return false;
    *out = v;
    return true;
}

/* Seconds as a decimal number (0.5 = 500 ms), strictly positive. */
static bool parse_seconds(const char *text, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v <= 0 || v > max) return false;
    *out = v;
    return true;
}

int cli_options_add_key(struct cli_options *opts, const void *data, size_t len)
{
    struct cli_bytes *more = realloc(opts->keys, sizeof *more * (size_t)(opts->key_count + 1));
    if (!more) {
        fprintf(stderr, "mqstate: out of memory\n");
        return CLI_EXIT_USAGE;
    }
    opts->keys = more;
    opts->keys[opts->key_count] = (struct cli_bytes){0};
    if (!cli_bytes_set(&opts->keys[opts->key_count], data, len)) {
        fprintf(stderr, "mqstate: out of memory\n");
        return CLI_EXIT_USAGE;
    }
    opts->key_count++;
    return CLI_EXIT_OK;
}

static int apply_hex_key(struct cli_options *opts, const char *arg, const char *value)
{
    struct cli_bytes key = {0};
    if (!cli_hex_decode(&key, value)) return bad_value(arg, value, "hexadecimal");
    int rc = cli_options_add_key(opts, key.data, key.len);
    cli_bytes_free(&key);
    return rc;
}

static int apply_value(struct cli_options *opts, const char *arg, const char *value, bool hex)
{
    if (opts->has_value) {
        fprintf(stderr, "mqstate: %s: the value is already given\n", arg);
        return CLI_EXIT_USAGE;
    }
    opts->has_value = true;
    if (hex) return cli_hex_decode(&opts->value, value) ? CLI_EXIT_OK : bad_value(arg, value, "hexadecimal");
    if (!cli_bytes_set(&opts->value, value, strlen(value))) {
        fprintf(stderr, "mqstate: out of memory\n");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int apply_seconds(const char *arg, const char *value, double max, double *out)
{
    return parse_seconds(value, max, out) ? CLI_EXIT_OK : bad_value(arg, value, "a positive number of seconds");
}

static int apply_number(const char *arg, const char *value, uint64_t min, uint64_t max, uint64_t *out,
                        const char *expected)
{
    return parse_u64(value, min, max, out) ? CLI_EXIT_OK : bad_value(arg, value, expected);
}

int cli_apply_connection(struct cli_connection *c, enum cli_opt_id id, const char *value, const char *arg)
{
    uint64_t port;
    double seconds;
    switch (id) {
    case OPT_HOST: c->host = value; break;
    case OPT_PORT:
        if (!parse_u64(value, 1, 65535, &port)) return bad_value(arg, value, "a port number (1-65535)");
        c->port = (int)port;
        break;
    case OPT_ID:
        if (!value[0]) return bad_value(arg, value, "a client id (it is empty)");
        c->client_id = value;
        break;
    case OPT_USERNAME: c->username = value; break;
    case OPT_PASSWORD: c->password = value; break;
    case OPT_PASSWORD_FILE: c->password_file = value; break;
    case OPT_ASKPASS: c->askpass = true; break;
    case OPT_CAFILE: c->cafile = value; break;
    case OPT_CAPATH: c->capath = value; break;
    case OPT_CERTFILE: c->certfile = value; break;
    case OPT_KEYFILE: c->keyfile = value; break;
    case OPT_KEYPASS: c->keypass = value; break;
    case OPT_KEYPASSWORDFILE: c->keypasswordfile = value; break;
    case OPT_INSECURE: c->insecure = true; break;
    case OPT_TIMEOUT:
        if (apply_seconds(arg, value, 86400, &seconds) != CLI_EXIT_OK) return CLI_EXIT_USAGE;
        c->timeout_ms = (uint32_t)ceil(seconds * 1000);
        break;
    default: break; /* --tls/--notls are resolved in options_check.c */
    }
    return CLI_EXIT_OK;
}

int cli_option_apply(struct cli_options *opts, struct cli_parse_state *st, enum cli_opt_id id, const char *value,
                     const char *arg)
{
    bool repeatable = id == OPT_KEY || id == OPT_KEY_HEX;
    if ((st->seen & OPT_BIT(id)) && !repeatable) {
        fprintf(stderr, "mqstate: %s given twice\n", arg);
        return CLI_EXIT_USAGE;
    }
    st->seen |= OPT_BIT(id);
    switch (id) {
    case OPT_KEY: return cli_options_add_key(opts, value, strlen(value));
    case OPT_KEY_HEX: return apply_hex_key(opts, arg, value);
    case OPT_VALUE: return apply_value(opts, arg, value, false);
    case OPT_VALUE_HEX: return apply_value(opts, arg, value, true);
    case OPT_VALUEFILE: opts->valuefile = value; return CLI_EXIT_OK;
    case OPT_NX: opts->nx = true; return CLI_EXIT_OK;
    case OPT_NEX: opts->nex = true; return CLI_EXIT_OK;
    case OPT_PERSIST: opts->persist = true; return CLI_EXIT_OK;
    case OPT_DIGEST: opts->digest = true; return CLI_EXIT_OK;
    case OPT_PX: return apply_number(arg, value, 1, UINT32_MAX, &opts->px_ms, "a positive number of milliseconds");
    case OPT_FT: opts->fencing_token = value; return CLI_EXIT_OK;
    case OPT_TTL: {
        double seconds;
        if (apply_seconds(arg, value, 86400, &seconds) != CLI_EXIT_OK) return CLI_EXIT_USAGE;
        opts->ttl_ms = (uint64_t)ceil(seconds * 1000);
        return CLI_EXIT_OK;
    }
    case OPT_WAIT:
        /* 0 = a single attempt: fail at once if someone else holds it. */
        if (strcmp(value, "0") == 0) {
            opts->wait_s = 0;
            return CLI_EXIT_OK;
        }
        /* At most 2e6 s: the wait is handed to the library in int ms. */
        return apply_seconds(arg, value, 2e6, &opts->wait_s);
    case OPT_HEX: opts->hex = true; return CLI_EXIT_OK;
    case OPT_JSON: opts->json = true; return CLI_EXIT_OK;
    case OPT_VERBOSE: opts->verbose = true; return CLI_EXIT_OK;
    case OPT_HELP:
    case OPT_VERSION: return CLI_EXIT_OK; /* options_check.c */
    default: return cli_apply_connection(&opts->conn, id, value, arg);
    }
}
