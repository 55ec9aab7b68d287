/* mqstate del KEY [--ft VERSION] and mqstate vdel KEY VALUE [--ft VERSION]. */
#include <stdio.h>

#include "commands.h"
#include "exitcodes.h"
#include "report.h"
#include "result_output.h"

static void print_json(const struct cli_options *opts, const char *op, const struct cli_bytes *key, const mqs_result *r)
{
    struct cli_json j;
    cli_json_key_begin(&j, opts, op, key->data, key->len);
    cli_json_int(&j, "count", r->count);
    cli_json_version(&j, r->has_version, &r->version);
    cli_json_end(&j);
}

/* count 1: deleted (0); 0: no such key (1); -1: other value (1). */
static int finish(const struct cli_options *opts, const char *op, mqs_err err, const mqs_result *r)
{
    const struct cli_bytes *key = &opts->keys[0];
    if (err != MQS_OK) return cli_report(op, err, r);
    if (opts->json) print_json(opts, op, key, r);
    else if (r->count == 0) cli_key_message(opts, key, "not found");
    else if (r->count < 0) cli_key_message(opts, key, "not deleted: the key holds another value");
    return r->count == 1 ? CLI_EXIT_OK : CLI_EXIT_NOT_MET;
}

/* Fills *del with the --ft token (stored in *token). */
static bool del_opts(const struct cli_options *opts, mqs_hlc *token, mqs_del_opts *del)
{
    del->fencing_token = NULL;
    if (!opts->fencing_token) return true;
    if (!cli_fencing_token(opts, token)) return false;
    del->fencing_token = token;
    return true;
}

int cli_cmd_del(const struct cli_options *opts, struct cli_session *s)
{
    const struct cli_bytes *key = &opts->keys[0];
    mqs_hlc token;
    mqs_del_opts del;
    if (!del_opts(opts, &token, &del)) return CLI_EXIT_USAGE;
    mqs_result r = {0};
    mqs_err err = mqs_del(s->client, key->data, key->len, &del, &r);
    int rc = finish(opts, "del", err, &r);
    mqs_result_clear(&r);
    return rc;
}

int cli_cmd_vdel(const struct cli_options *opts, struct cli_session *s)
{
    const struct cli_bytes *key = &opts->keys[0];
    mqs_hlc token;
    mqs_del_opts del;
    if (!del_opts(opts, &token, &del)) return CLI_EXIT_USAGE;
    mqs_result r = {0};
    mqs_err err = mqs_vdel(s->client, key->data, key->len, opts->value.data, opts->value.len, &del, &r);
    int rc = finish(opts, "vdel", err, &r);
    mqs_result_clear(&r);
    return rc;
}
