/* Synchronous signal handling for watch and lock. */
#include "signals.h"

#include <pthread.h>
#include <unistd.h>

void cli_signals_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGCHLD);
    sigaddset(set, SIGUSR1);
}

void cli_signals_block(sigset_t *old)
{
    sigset_t set;
    cli_signals_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

void cli_signals_wake(void)
{
    /* Process-directed: every thread blocks it, so it stays pending until
     * the main thread's sigwaitinfo takes it. */
    kill(getpid(), SIGUSR1);
}
