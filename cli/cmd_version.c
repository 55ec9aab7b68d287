/* mqstate version: the tool's version and the libmqstate it runs on. */
#include <mqstate/mqstate.h>

#include <stdio.h>

#include "commands.h"
#include "exitcodes.h"
#include "json.h"

int cli_cmd_version(const struct cli_options *opts)
{
    if (opts->json) {
        struct cli_json j;
        cli_json_begin(&j, stdout, false);
        cli_json_string(&j, "version", MQS_VERSION);
        cli_json_string(&j, "libmqstate", mqs_sdk_version());
        cli_json_end(&j);
    } else {
        printf("mqstate %s (libmqstate %s)\n", MQS_VERSION, mqs_sdk_version());
    }
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}
