/* Exit statuses of the mqstate tool. They are part of its interface
 * (documented in --help and docs/cli.md): scripts branch on them. */
#ifndef MQSTATE_CLI_EXITCODES_H
#define MQSTATE_CLI_EXITCODES_H

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_NOT_MET = 1, /* not found, or the condition (NX/NEX/VDEL) not met */
    CLI_EXIT_USAGE = 2,   /* bad command line, unreadable input file */
    CLI_EXIT_CONNECT = 3, /* cannot connect, TLS or authentication failure */
    CLI_EXIT_SERVICE = 4, /* the state store answered with an error, or timed out */
};

#endif
