/* Connection settings from outside the command line: the MQSTATE_*
 * environment (as redis-cli's REDISCLI_AUTH or etcdctl's ETCDCTL_*), the
 * password file and the terminal prompt. The command line wins over the
 * environment; an empty variable counts as unset. `mqstate lock` and
 * `mqstate elect` set these variables for their command (child.c), so that
 * an mqstate run inside it reaches the same broker. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "exitcodes.h"
#include "option_parse.h"

static const struct {
    enum cli_opt_id id;
    const char *var;
} env_settings[] = {
    {OPT_HOST, "MQSTATE_HOST"},
    {OPT_PORT, "MQSTATE_PORT"},
    {OPT_USERNAME, "MQSTATE_USERNAME"},
    {OPT_PASSWORD, "MQSTATE_PASSWORD"},
};

#define PASSWORD_OPTS (OPT_BIT(OPT_PASSWORD) | OPT_BIT(OPT_PASSWORD_FILE) | OPT_BIT(OPT_ASKPASS))

/* The first line of `in` without its line end, malloc'd; NULL on error. */
static char *read_line(FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, in);
    if (n < 0) {
        if (!ferror(in) && line) { /* empty file: empty password */
            line[0] = '\0';
            return line;
        }
        free(line);
        return NULL;
    }
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

static int read_password_file(struct cli_options *opts)
{
    const char *path = opts->conn.password_file;
    FILE *f = fopen(path, "r");
    if (f) {
        opts->password_owned = read_line(f);
        fclose(f);
    }
    if (!opts->password_owned) {
        fprintf(stderr, "mqstate: --password-file %s: %s\n", path, f ? "cannot read it" : strerror(errno));
        return CLI_EXIT_USAGE;
    }
    opts->conn.password = opts->password_owned;
    return CLI_EXIT_OK;
}

/* "Password for USER: " on the terminal, echo off. */
static int prompt_password(struct cli_options *opts)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    FILE *tty = fd >= 0 ? fdopen(fd, "r+") : NULL;
    if (!tty) {
        if (fd >= 0) close(fd);
        fprintf(stderr, "mqstate: --askpass needs a terminal\n");
        return CLI_EXIT_USAGE;
    }
    /* Echo off (and typed-ahead input dropped) before the prompt shows. */
    struct termios saved, quiet;
    bool echo_off = tcgetattr(fd, &saved) == 0;
    if (echo_off) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    fprintf(tty, "Password for %s: ", opts->conn.username ? opts->conn.username : "(no user)");
    fflush(tty);
    opts->password_owned = read_line(tty);
    if (echo_off) tcsetattr(fd, TCSAFLUSH, &saved);
    fputc('\n', tty);
    fclose(tty);
    if (!opts->password_owned) {
        fprintf(stderr, "mqstate: --askpass: no password read\n");
        return CLI_EXIT_USAGE;
    }
    opts->conn.password = opts->password_owned;
    return CLI_EXIT_OK;
}

int cli_options_environment(struct cli_options *opts, struct cli_parse_state *st)
{
    if (__builtin_popcountll(st->seen & PASSWORD_OPTS) > 1) {
        fprintf(stderr, "mqstate: give one of -P, --password-file and --askpass\n");
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof env_settings / sizeof env_settings[0]; i++) {
        uint64_t given = env_settings[i].id == OPT_PASSWORD ? PASSWORD_OPTS : OPT_BIT(env_settings[i].id);
        const char *value = getenv(env_settings[i].var);
        if ((st->seen & given) || !value || !value[0]) continue;
        int rc = cli_apply_connection(&opts->conn, env_settings[i].id, value, env_settings[i].var);
        if (rc != CLI_EXIT_OK) return rc;
    }
    if (opts->conn.password_file) return read_password_file(opts);
    if (opts->conn.askpass) return prompt_password(opts);
    return CLI_EXIT_OK;
}
