/* The value of set/vdel. */
#include "value_input.h"

#include <stdio.h>
#include <unistd.h>

#include "exitcodes.h"

int cli_value_resolve(struct cli_options *opts)
{
    if (opts->has_value) return CLI_EXIT_OK;
    const char *path = opts->valuefile ? opts->valuefile : "-";
    /* Without this a forgotten value looks like a hang. */
    if (path[0] == '-' && path[1] == '\0' && isatty(STDIN_FILENO))
        fprintf(stderr, "mqstate: reading the value from standard input (end with Ctrl-D)\n");
    if (!cli_bytes_read_file(&opts->value, path)) return CLI_EXIT_USAGE;
    opts->has_value = true;
    return CLI_EXIT_OK;
}
