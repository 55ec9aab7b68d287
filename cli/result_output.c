/* Output helpers shared by the subcommands. */
#include "result_output.h"

#include <string.h>

#include "display.h"

void cli_key_message(const struct cli_options *opts, const struct cli_bytes *key, const char *message)
{
    fputs("mqstate: ", stderr);
    cli_display_bytes(stderr, key->data, key->len, opts->hex);
    fprintf(stderr, ": %s\n", message);
}

const char *cli_version_text(bool has_version, const mqs_hlc *v, char *buf)
{
    if (!has_version || mqs_hlc_format(v, buf, MQS_HLC_STR_MAX) == 0) strcpy(buf, "-");
    return buf;
}

void cli_json_key_begin(struct cli_json *j, const struct cli_options *opts, const char *op, const uint8_t *key,
                        size_t klen)
{
    cli_json_begin(j, stdout, opts->hex);
    cli_json_string(j, "op", op);
    cli_json_bytes(j, "key", key, klen);
}

void cli_json_version(struct cli_json *j, bool has_version, const mqs_hlc *v)
{
    char buf[MQS_HLC_STR_MAX];
    if (has_version && mqs_hlc_format(v, buf, sizeof buf)) cli_json_string(j, "version", buf);
}

bool cli_fencing_token(const struct cli_options *opts, mqs_hlc *out)
{
    const char *ft = opts->fencing_token;
    if (mqs_hlc_parse(ft, strlen(ft), out)) return true;
    fprintf(stderr, "mqstate: --ft: '%s' is not a version (wall:counter:node)\n", ft);
    return false;
}
