/* mqstate watch KEY...: one line (or JSON object) per notification until
 * SIGINT/SIGTERM/SIGHUP, then a clean exit 0. */
#include <stdio.h>

#include "commands.h"
#include "display.h"
#include "exitcodes.h"
#include "report.h"
#include "result_output.h"
#include "signals.h"

static void print_json(const struct cli_options *opts, const mqs_notification *n)
{
    struct cli_json j;
    cli_json_key_begin(&j, opts, "notify", n->key, n->key_len);
    cli_json_string(&j, "operation", n->op == MQS_NOTIFY_SET ? "SET" : "DELETE");
    if (n->op == MQS_NOTIFY_SET) cli_json_bytes(&j, "value", n->value, n->value_len);
    cli_json_version(&j, n->has_version, &n->version);
    if (n->synthetic) cli_json_bool(&j, "synthetic", true);
    cli_json_end(&j);
}

/* "<version> SET <key> <value>" or "<version> DELETE <key>". Runs on the
 * library's network thread, the only thread writing stdout meanwhile. */
static void on_notify(mqs_client *c, const mqs_notification *n, void *ud)
{
    const struct cli_options *opts = ud;
    if (opts->json) {
        print_json(opts, n);
        return;
    }
    char version[MQS_HLC_STR_MAX];
    printf("%s %s ", cli_version_text(n->has_version, &n->version, version),
           n->op == MQS_NOTIFY_SET ? "SET" : "DELETE");
    cli_display_bytes(stdout, n->key, n->key_len, opts->hex);
    if (n->op == MQS_NOTIFY_SET) {
        putchar(' ');
        cli_display_bytes(stdout, n->value, n->value_len, opts->hex);
    }
    putchar('\n');
    fflush(stdout);
}

static int observe_all(const struct cli_options *opts, struct cli_session *s)
{
    for (int i = 0; i < opts->key_count; i++) {
        mqs_result r = {0};
        mqs_err err = mqs_observe(s->client, opts->keys[i].data, opts->keys[i].len, on_notify, (void *)opts, &r);
        int rc = err == MQS_OK ? CLI_EXIT_OK : cli_report("watch", err, &r);
        mqs_result_clear(&r);
        if (rc != CLI_EXIT_OK) return rc;
    }
    return CLI_EXIT_OK;
}

/* Waits for a signal that ends the watch; SIGCHLD/SIGUSR1 are not ours. */
static void wait_for_stop(void)
{
    sigset_t set;
    cli_signals_set(&set);
    for (;;) {
        int sig = sigwaitinfo(&set, NULL);
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) return;
    }
}

int cli_cmd_watch(const struct cli_options *opts)
{
    cli_signals_block(NULL);
    struct cli_session s;
    int rc = cli_session_open(&s, opts);
    if (rc != CLI_EXIT_OK) return rc;
    rc = observe_all(opts, &s);
    if (rc == CLI_EXIT_OK) {
        if (opts->verbose) fprintf(stderr, "mqstate: watching %d key(s)\n", opts->key_count);
        wait_for_stop();
    }
    cli_session_close(&s);
    return rc;
}
