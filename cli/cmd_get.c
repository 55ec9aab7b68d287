/* mqstate get KEY: the value's exact bytes to stdout or -f FILE. */
#include <stdio.h>
#include <unistd.h>

#include "commands.h"
#include "display.h"
#include "exitcodes.h"
#include "report.h"
#include "result_output.h"

static void print_json(const struct cli_options *opts, const struct cli_bytes *key, const mqs_result *r)
{
    struct cli_json j;
    cli_json_key_begin(&j, opts, "get", key->data, key->len);
    cli_json_bool(&j, "found", r->found);
    if (r->found) cli_json_bytes(&j, "value", r->value.data, r->value.len);
    cli_json_version(&j, r->has_version, &r->version);
    cli_json_end(&j);
}

/* Text mode: exact bytes, so `mqstate get k > file` is byte-exact. A
 * newline is added only for a terminal, so the prompt starts on its own
 * line; --hex is for reading binary values on a terminal. */
static int print_value(const struct cli_options *opts, const mqs_result *r)
{
    if (opts->valuefile)
        return cli_bytes_write_file(r->value.data, r->value.len, opts->valuefile) ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (opts->hex) {
        cli_display_bytes(stdout, r->value.data, r->value.len, true);
        putchar('\n');
    } else {
        fwrite(r->value.data, 1, r->value.len, stdout);
        if (isatty(STDOUT_FILENO)) putchar('\n');
    }
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

int cli_cmd_get(const struct cli_options *opts, struct cli_session *s)
{
    const struct cli_bytes *key = &opts->keys[0];
    mqs_result r = {0};
    mqs_err err = mqs_get(s->client, key->data, key->len, &r);
    int rc;
    if (err != MQS_OK) {
        rc = cli_report("get", err, &r);
    } else if (opts->json) {
        if (r.found && opts->valuefile) rc = print_value(opts, &r);
        else rc = r.found ? CLI_EXIT_OK : CLI_EXIT_NOT_MET;
        print_json(opts, key, &r);
    } else if (!r.found) {
        cli_key_message(opts, key, "not found");
        rc = CLI_EXIT_NOT_MET;
    } else {
        rc = print_value(opts, &r);
    }
    mqs_result_clear(&r);
    return rc;
}
