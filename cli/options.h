/* The parsed command line of mqstate: the connection settings, the
 * subcommand and its arguments. Both the mqstate spellings (mosquitto_pub
 * style) and those of the AIO statestore-cli are accepted; docs/cli.md lists
 * how the clashes between the two are resolved. */
#ifndef MQSTATE_CLI_OPTIONS_H
#define MQSTATE_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "bytes.h"

enum cli_command {
    CLI_CMD_NONE,
    CLI_CMD_GET,
    CLI_CMD_SET,
    CLI_CMD_DEL,
    CLI_CMD_VDEL,
    CLI_CMD_WATCH,
    CLI_CMD_KEYS,
    CLI_CMD_LOCK,
    CLI_CMD_ELECT,
    CLI_CMD_CLUSTER,
    CLI_CMD_VERSION,
    CLI_CMD_HELP,
};

struct cli_connection {
    const char *host;
    int port;              /* 0 = the default for the transport (1883 / 8883) */
    const char *client_id; /* NULL = a fresh unique id for this run */
    const char *username;
    const char *password;      /* -P, MQSTATE_PASSWORD, --password-file or --askpass */
    const char *password_file; /* --password-file: its first line is the password */
    bool askpass;              /* --askpass: prompt on the terminal */
    const char *cafile;
    const char *capath;
    const char *certfile;
    const char *keyfile;
    const char *keypass;         /* private key password given as text */
    const char *keypasswordfile; /* ... or read from this file */
    bool tls;                    /* resolved: true if --tls or any TLS file was given */
    bool insecure;               /* do not check the server's host name */
    uint32_t timeout_ms;         /* connect and per-request timeout */
};

struct cli_options {
    enum cli_command command;
    struct cli_connection conn;

    /* Keys: one for get/set/del/vdel, one or more for watch, the lock name
     * for lock. The pattern of `keys` is kept as text in `pattern`. */
    struct cli_bytes *keys;
    int key_count;
    const char *pattern;

    bool has_value; /* --value / --value-hex given */
    struct cli_bytes value;
    const char *valuefile; /* -f: input of set/vdel, output of get */

    bool nx, nex, persist;
    bool digest;               /* cluster status --digest */
    const char *subcommand;    /* cluster: status, add, remove */
    uint32_t member_id;        /* cluster add/remove */
    uint64_t px_ms;            /* 0 = no expiry */
    const char *fencing_token; /* --ft */
    uint64_t ttl_ms;           /* lease length of `lock`, term of `elect` */
    double wait_s;             /* lock/elect: how long to wait, < 0 = forever */

    bool hex;  /* display keys and values in hexadecimal */
    bool json; /* one JSON object per result */
    bool verbose;

    char **child_argv;    /* lock/elect: the command after "--" (NULL-ended) */
    char *password_owned; /* read from --password-file or the terminal */
};

/* Parses argv into `opts`. Connection settings not given as options come
 * from the environment (MQSTATE_HOST, MQSTATE_PORT, MQSTATE_USERNAME,
 * MQSTATE_PASSWORD); the password file is read and --askpass prompts here.
 * Returns CLI_EXIT_OK, or CLI_EXIT_USAGE after printing one line on stderr.
 * Values read from stdin or files are not read here (see value_input.h). */
int cli_options_parse(struct cli_options *opts, int argc, char **argv);
void cli_options_free(struct cli_options *opts);

#endif
