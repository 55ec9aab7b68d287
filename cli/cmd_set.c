/* mqstate set KEY [VALUE] [--nx|--nex] [--px MS] [--ft VERSION] [--persist] */
#include <stdio.h>

#include "commands.h"
#include "exitcodes.h"
#include "report.h"
#include "result_output.h"

static void print_json(const struct cli_options *opts, const struct cli_bytes *key, const mqs_result *r)
{
    struct cli_json j;
    cli_json_key_begin(&j, opts, "set", key->data, key->len);
    cli_json_bool(&j, "applied", r->applied);
    cli_json_version(&j, r->has_version, &r->version);
    cli_json_end(&j);
}

int cli_cmd_set(const struct cli_options *opts, struct cli_session *s)
{
    const struct cli_bytes *value = &opts->value;
    const struct cli_bytes *key = &opts->keys[0];
    mqs_hlc token;
    mqs_set_opts so = {
        .cond = opts->nx    ? MQS_SET_NX
                : opts->nex ? MQS_SET_NEX
                            : MQS_SET_ALWAYS,
        .px_ms = opts->px_ms,
        .persist = opts->persist,
    };
    if (opts->fencing_token) {
        if (!cli_fencing_token(opts, &token)) return CLI_EXIT_USAGE;
        so.fencing_token = &token;
    }
    mqs_result r = {0};
    mqs_err err = mqs_set(s->client, key->data, key->len, value->data, value->len, &so, &r);
    int rc = CLI_EXIT_OK;
    if (err != MQS_OK) rc = cli_report("set", err, &r);
    else if (!r.applied) rc = CLI_EXIT_NOT_MET;
    if (err == MQS_OK && opts->json) print_json(opts, key, &r);
    else if (rc == CLI_EXIT_NOT_MET)
        cli_key_message(opts, key, opts->nx ? "not set: the key exists" : "not set: the key holds another value");
    mqs_result_clear(&r);
    return rc;
}
