/* Spawning the locked command. posix_spawn rather than fork: mqstate has
 * the library's network thread running, and only async-signal-safe calls
 * are allowed between fork and exec in a threaded process. */
#include "child.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

#define TOKEN_VAR "MQSTATE_FENCING_TOKEN"

/* environ without any old TOKEN_VAR, plus TOKEN_VAR=token. */
static char **child_environment(const char *token, char **entry)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    if (!env || asprintf(entry, "%s=%s", TOKEN_VAR, token) < 0) {
        free(env);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], TOKEN_VAR "=", sizeof TOKEN_VAR) != 0)
            env[k++] = environ[i];
    }
    env[k++] = *entry;
    env[k] = NULL;
    return env;
}

static int spawn(pid_t *pid, char **argv, char **env, const sigset_t *mask)
{
    posix_spawnattr_t attr;
    sigset_t defaults;
    sigemptyset(&defaults);
    /* Whatever mqstate or its libraries ignored or blocked, the command
     * starts with the default dispositions and the original mask. */
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&defaults, sigs[i]);
    int err = posix_spawnattr_init(&attr);
    if (err)
        return err;
    posix_spawnattr_setsigmask(&attr, mask);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    err = posix_spawnp(pid, argv[0], NULL, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
    return err;
}

pid_t cli_child_spawn(char **argv, const char *token, const sigset_t *mask, int *status_out)
{
    char *entry = NULL;
    char **env = child_environment(token, &entry);
    if (!env) {
        fprintf(stderr, "mqstate: lock: out of memory\n");
        *status_out = 126;
        return -1;
    }
    pid_t pid;
    int err = spawn(&pid, argv, env, mask);
    free(env);
    free(entry);
    if (err) {
        fprintf(stderr, "mqstate: lock: cannot run %s: %s\n", argv[0], strerror(err));
        *status_out = err == ENOENT ? 127 : 126;
        return -1;
    }
    return pid;
}

int cli_child_status(int wait_status)
{
    if (WIFEXITED(wait_status))
        return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status))
        return 128 + WTERMSIG(wait_status);
    return 1;
}
