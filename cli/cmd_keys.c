/* mqstate keys [PATTERN]: every page of SCAN, one key per line. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "display.h"
#include "exitcodes.h"
#include "json.h"
#include "report.h"

static void print_key(const struct cli_options *opts, const mqs_bytes *key)
{
    if (opts->json) {
        struct cli_json j;
        cli_json_begin(&j, stdout, opts->hex);
        cli_json_bytes(&j, "key", key->data, key->len);
        cli_json_end(&j);
        return;
    }
    cli_display_bytes(stdout, key->data, key->len, opts->hex);
    putchar('\n');
}

int cli_cmd_keys(const struct cli_options *opts, struct cli_session *s)
{
    mqs_scan *scan = mqs_scan_new(s->client, opts->pattern, strlen(opts->pattern));
    if (!scan) {
        fprintf(stderr, "mqstate: keys: the pattern is empty\n");
        return CLI_EXIT_USAGE;
    }
    int rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && !mqs_scan_done(scan)) {
        mqs_result r = {0};
        mqs_err err = mqs_scan_next(scan, &r);
        if (err != MQS_OK) rc = cli_report("keys", err, &r);
        for (size_t i = 0; err == MQS_OK && i < r.nkeys; i++) print_key(opts, &r.keys[i]);
        mqs_result_clear(&r);
    }
    mqs_scan_free(scan);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
        fprintf(stderr, "mqstate: keys: cannot write standard output\n");
        rc = CLI_EXIT_USAGE;
    }
    return rc;
}
