/* `mqstated passwd`: create or update a password file entry. */
#ifndef MQS_SERVER_PASSWD_CMD_H
#define MQS_SERVER_PASSWD_CMD_H

/* argv[0] is "passwd". Returns the process exit status. */
int passwd_cmd_main(int argc, char **argv);

#endif
