/* The table of mqstate's command-line options: every spelling (mqstate,
 * mosquitto_pub and AIO statestore-cli) maps to one option id. */
#ifndef MQSTATE_CLI_OPTION_TABLE_H
#define MQSTATE_CLI_OPTION_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cli_opt_id {
    /* connection */
    OPT_HOST,
    OPT_PORT,
    OPT_ID,
    OPT_USERNAME,
    OPT_PASSWORD,
    OPT_CAFILE,
    OPT_CAPATH,
    OPT_CERTFILE,
    OPT_KEYFILE,
    OPT_KEYPASS,
    OPT_KEYPASSWORDFILE,
    OPT_TLS,
    OPT_NOTLS,
    OPT_INSECURE,
    OPT_TIMEOUT,
    OPT_VERBOSE,
    OPT_PASSWORD_FILE,
    OPT_ASKPASS,
    /* data and output */
    OPT_KEY,
    OPT_KEY_HEX,
    OPT_VALUE,
    OPT_VALUE_HEX,
    OPT_VALUEFILE,
    OPT_NX,
    OPT_NEX,
    OPT_PX,
    OPT_FT,
    OPT_PERSIST,
    OPT_TTL,
    OPT_WAIT,
    OPT_HEX,
    OPT_JSON,
    OPT_DIGEST,
    /* informational */
    OPT_HELP,
    OPT_VERSION,
    OPT_COUNT
};

#define OPT_BIT(id) ((uint64_t)1 << (id))

struct cli_opt_spec {
    enum cli_opt_id id;
    char short_name;           /* 0 = none */
    const char *long_names[3]; /* without the leading "--"; NULL-padded */
    bool takes_arg;
};

/* NULL if unknown. `name` is without dashes; for short options a
 * one-character string. */
const struct cli_opt_spec *cli_opt_find_long(const char *name, size_t len);
const struct cli_opt_spec *cli_opt_find_short(char c);

/* The first long spelling, for messages ("--px"). */
const char *cli_opt_name(enum cli_opt_id id);

#endif
