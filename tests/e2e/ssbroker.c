/* Restart of the case's broker with extra configuration; see ssbroker.h. */
#include "ssbroker.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rawclient.h"

#define SS_START_WAIT_MS 10000
#define SS_STOP_WAIT_MS 10000

static struct {
    pid_t pid;
    char dir[PATH_MAX];
    char conf[PATH_MAX + 16];
    char log[PATH_MAX + 16];
} b;

static const char *broker_binary(void)
{
    const char *choice = getenv("MQS_TEST_BROKER");
    return choice && *choice ? choice : getenv("MQSTATED");
}

static bool write_config(const char *extra_yaml)
{
    FILE *f = fopen(b.conf, "w");
    if (!f)
        return false;
    fprintf(f, "log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %d\n%s\n",
            e2e_port(), extra_yaml);
    return fclose(f) == 0;
}

static void exec_broker(const char *binary)
{
    int fd = open(b.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0)
        _exit(126);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    execl(binary, binary, "-c", b.conf, (char *)NULL);
    _exit(127);
}

static bool wait_listening(void)
{
    int64_t deadline = e2e_now_ms() + SS_START_WAIT_MS;
    while (e2e_now_ms() < deadline) {
        if (waitpid(b.pid, NULL, WNOHANG) == b.pid) {
            b.pid = 0;
            return false;
        }
        int fd = raw_open(e2e_port());
        if (fd >= 0) {
            raw_close(fd);
            return true;
        }
        e2e_sleep_ms(10);
    }
    return false;
}

static void dump_and_remove_log(bool dump)
{
    FILE *f = dump ? fopen(b.log, "r") : NULL;
    char line[1024];
    if (f) {
        fprintf(stderr, "  ---- restarted broker log ----\n");
        while (fgets(line, sizeof line, f))
            fprintf(stderr, "  | %s", line);
        fprintf(stderr, "  ---- end ----\n");
        fclose(f);
    }
    unlink(b.log);
    unlink(b.conf);
    rmdir(b.dir);
}

bool ss_broker_restart(const char *extra_yaml)
{
    const char *binary = broker_binary();
    if (!e2e_stop_broker()) {
        e2e_fail(__FILE__, __LINE__, "first broker did not exit cleanly");
        return false;
    }
    snprintf(b.dir, sizeof b.dir, "%s/mqs-ss-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!binary || !mkdtemp(b.dir)) {
        e2e_fail(__FILE__, __LINE__, "no broker binary or temp dir");
        return false;
    }
    snprintf(b.conf, sizeof b.conf, "%s/mqstated.yaml", b.dir);
    snprintf(b.log, sizeof b.log, "%s/broker.log", b.dir);
    if (!write_config(extra_yaml)) {
        e2e_fail(__FILE__, __LINE__, "cannot write %s", b.conf);
        return false;
    }
    fflush(NULL);
    b.pid = fork();
    if (b.pid == 0)
        exec_broker(binary);
    if (b.pid > 0 && wait_listening())
        return true;
    e2e_fail(__FILE__, __LINE__, "broker with extra config \"%s\" did not start", extra_yaml);
    if (b.pid > 0) {
        kill(b.pid, SIGKILL);
        waitpid(b.pid, NULL, 0);
        b.pid = 0;
    }
    dump_and_remove_log(true);
    return false;
}

bool ss_broker_stop(void)
{
    if (b.pid <= 0)
        return false;
    int status = 0;
    pid_t r = 0;
    kill(b.pid, SIGTERM);
    int64_t deadline = e2e_now_ms() + SS_STOP_WAIT_MS;
    while ((r = waitpid(b.pid, &status, WNOHANG)) == 0 && e2e_now_ms() < deadline)
        e2e_sleep_ms(10);
    if (r == 0) {
        kill(b.pid, SIGKILL);
        waitpid(b.pid, &status, 0);
    }
    b.pid = 0;
    bool ok = r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok)
        e2e_fail(__FILE__, __LINE__, "restarted broker did not exit cleanly with status 0");
    dump_and_remove_log(!ok || e2e_failed());
    return ok;
}
