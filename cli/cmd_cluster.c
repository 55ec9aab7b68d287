/* mqstate cluster status [--digest]: the status of the cluster member the
 * tool is connected to, as the server reports it (one JSON object, the
 * same with and without --json); mqstate cluster add|remove ID: a
 * membership change, done by the leader (docs/cluster.md, "Operations"). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "exitcodes.h"
#include "report.h"

static int member(const struct cli_options *opts, struct cli_session *s)
{
    bool add = !strcmp(opts->subcommand, "add");
    mqs_result r = {0};
    mqs_err err = mqs_cluster_member(s->client, add, opts->member_id, &r);
    int rc = err == MQS_OK ? CLI_EXIT_OK : cli_report(add ? "cluster add" : "cluster remove", err, &r);
    mqs_result_clear(&r);
    return rc;
}

int cli_cmd_cluster(const struct cli_options *opts, struct cli_session *s)
{
    if (strcmp(opts->subcommand, "status") != 0) return member(opts, s);
    mqs_result r = {0};
    mqs_err err = mqs_cluster_status(s->client, opts->digest, &r);
    int rc = err == MQS_OK ? CLI_EXIT_OK : cli_report("cluster status", err, &r);
    if (err == MQS_OK) {
        fwrite(r.value.data, 1, r.value.len, stdout);
        putchar('\n');
    }
    mqs_result_clear(&r);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
        fprintf(stderr, "mqstate: cluster status: cannot write standard output\n");
        rc = CLI_EXIT_USAGE;
    }
    return rc;
}
