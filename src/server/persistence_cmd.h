/* `mqstated persistence check|repair DIR` (docs/persistence.md). */
#ifndef MQS_SERVER_PERSISTENCE_CMD_H
#define MQS_SERVER_PERSISTENCE_CMD_H

/* Exit status of `check`. */
#define PERSISTENCE_CHECK_CLEAN 0
#define PERSISTENCE_CHECK_TORN 1
#define PERSISTENCE_CHECK_CORRUPT 2
#define PERSISTENCE_CMD_ERROR 3 /* usage, or the files cannot be read/locked */

/* argv[0] is "persistence". Returns the process exit status. */
int persistence_cmd_main(int argc, char **argv);

#endif
