#include "sdk_support.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rawclient.h"

static pid_t restarted_pid;

mqs_client *sdk_connect_port(const char *prefix, int port)
{
    char id[64];
    mqs_connect_opts o;
    mqs_connect_opts_init(&o);
    mqs_client_id_generate(prefix, id, sizeof id);
    o.host = "127.0.0.1";
    o.port = port;
    o.client_id = id;
    o.request_timeout_ms = 5000;
    o.reconnect_max_ms = 500;
    mqs_client *c = mqs_client_new(&o, NULL);
    if (c && mqs_client_connect(c, 5000) != MQS_OK) {
        mqs_client_destroy(c);
        c = NULL;
    }
    return c;
}

mqs_client *sdk_connect(const char *prefix) { return sdk_connect_port(prefix, e2e_port()); }

bool sdk_restart_broker(void)
{
    const char *bin = getenv("MQS_TEST_BROKER");
    if (!bin || !*bin) bin = getenv("MQSTATED");
    if (!e2e_stop_broker()) return false;
    char port[16];
    snprintf(port, sizeof port, "%d", e2e_port());
    fflush(NULL);
    restarted_pid = fork();
    if (restarted_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        execl(bin, bin, "-p", port, "--bind", "127.0.0.1", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        int fd = raw_open(e2e_port());
        if (fd >= 0) {
            close(fd);
            return true;
        }
        e2e_sleep_ms(10);
    }
    return false;
}

bool sdk_stop_restarted(void)
{
    if (restarted_pid <= 0) return true;
    int status = 0;
    kill(restarted_pid, SIGTERM);
    waitpid(restarted_pid, &status, 0);
    restarted_pid = 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool sdk_wait_flag(volatile int *flag, int target, int ms)
{
    for (int i = 0; i < ms / 10 && *flag < target; i++) e2e_sleep_ms(10);
    return *flag >= target;
}
