/* Broker lifecycle and case runner for the end-to-end tests. */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "client.h"
#include "rawclient.h"

#define MOSQUITTO_BIN "/usr/sbin/mosquitto"
#define START_ATTEMPTS 5
#define START_WAIT_MS 10000 /* ASan builds start slowly on a loaded machine */
#define STOP_WAIT_MS 10000

static struct {
    const char *binary;
    bool mqstated;
    char dir[PATH_MAX];
    char log_path[PATH_MAX + 16];
    char conf_path[PATH_MAX + 16];
    pid_t pid;
    int port;
    bool stopped;
    bool signalled;
    bool exit_ok;
    bool failed;
    const char *case_name;
    long max_fds;
    const struct e2e_limits *limits; /* of the running case, for e2e_restart_broker */
    const char *extra_yaml;
} g;

int e2e_port(void) { return g.port; }
pid_t e2e_broker_pid(void) { return g.pid; }
bool e2e_is_mqstated(void) { return g.mqstated; }
bool e2e_failed(void) { return g.failed; }

int64_t e2e_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void e2e_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

void e2e_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  FAIL [%s] %s:%d: ", g.case_name, file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    g.failed = true;
}

void e2e_note(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  note [%s]: ", g.case_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

bool e2e_mosquitto_deviates(const char *what)
{
    if (g.mqstated) return false;
    fprintf(stderr, "  not checked against Mosquitto [%s]: %s\n", g.case_name, what);
    return true;
}

static void select_broker(void)
{
    const char *choice = getenv("MQS_TEST_BROKER");
    if (choice && strcmp(choice, "mosquitto") == 0) {
        g.binary = MOSQUITTO_BIN;
        g.mqstated = false;
        return;
    }
    g.binary = (choice && *choice) ? choice : getenv("MQSTATED");
    g.mqstated = true;
    if (!g.binary || !*g.binary) {
        fprintf(stderr, "neither MQS_TEST_BROKER nor MQSTATED is set\n");
        exit(2);
    }
}

/* Asks the kernel for an unused port. Another process may grab it before the
 * broker binds, which broker_start handles by retrying with a new port. */
static int pick_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof addr;
    int port = -1;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static void put_limit(FILE *f, const char *fmt, long value)
{
    if (value > 0) fprintf(f, fmt, value);
}

static void write_mqstated_config(FILE *f, const struct e2e_limits *l, const char *extra)
{
    fprintf(f, "log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %d\n", g.port);
    for (const char *at; extra && (at = strstr(extra, "@DIR@")); extra = at + 5) { /* the case's directory */
        fwrite(extra, 1, (size_t)(at - extra), f);
        fputs(g.dir, f);
    }
    if (extra) fputs(extra, f);
    if (!l) return;
    fprintf(f, "limits:\n");
    put_limit(f, "  max_packet_size: %ld\n", l->max_packet_size);
    put_limit(f, "  receive_maximum: %ld\n", l->receive_maximum);
    put_limit(f, "  max_inflight: %ld\n", l->max_inflight);
    put_limit(f, "  max_queued_messages: %ld\n", l->max_queued_messages);
    put_limit(f, "  max_topic_levels: %ld\n", l->max_topic_levels);
    put_limit(f, "  max_connections: %ld\n", l->max_connections);
    put_limit(f, "  keepalive_max: %ld\n", l->keepalive_max);
    put_limit(f, "  topic_alias_maximum: %ld\n", l->topic_alias_maximum);
    put_limit(f, "  max_backlog_bytes: %ld\n", l->max_backlog_bytes);
    put_limit(f, "  max_queued_bytes: %ld\n", l->max_queued_bytes);
    put_limit(f, "  slow_subscriber_timeout: %ld\n", l->slow_subscriber_timeout);
}

/* Mosquitto has one in-flight setting for both directions, so receive_maximum
 * and max_inflight both map to max_inflight_messages. Limits with no
 * Mosquitto equivalent (topic levels, backlog bytes) are left out; cases that
 * depend on them are marked mqstated-only. */
static void write_mosquitto_config(FILE *f, const struct e2e_limits *l)
{
    fprintf(f,
            "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "log_dest stderr\nlog_type all\nallow_duplicate_messages false\n",
            g.port);
    if (!l) return;
    put_limit(f, "max_packet_size %ld\n", l->max_packet_size);
    put_limit(f, "max_inflight_messages %ld\n", l->receive_maximum);
    put_limit(f, "max_inflight_messages %ld\n", l->max_inflight);
    put_limit(f, "max_queued_messages %ld\n", l->max_queued_messages);
    put_limit(f, "max_queued_bytes %ld\n", l->max_queued_bytes);
    put_limit(f, "max_keepalive %ld\n", l->keepalive_max);
    put_limit(f, "max_topic_alias %ld\n", l->topic_alias_maximum);
    /* A per-listener option in Mosquitto: valid here, after "listener". */
    put_limit(f, "max_connections %ld\n", l->max_connections);
}

static bool write_config(const struct e2e_limits *limits, const char *extra_yaml)
{
    snprintf(g.conf_path, sizeof g.conf_path, "%s/%s", g.dir, g.mqstated ? "mqstated.yaml" : "mosquitto.conf");
    FILE *f = fopen(g.conf_path, "w");
    if (!f) return false;
    if (g.mqstated) write_mqstated_config(f, limits, extra_yaml);
    else write_mosquitto_config(f, limits);
    return fclose(f) == 0;
}

/* ASan keeps freed memory in a quarantine (256 MiB by default) that shows up
 * as RSS: shrink it so memory-bound tests measure the broker's own backlog,
 * not the sanitizer's. Options given later override earlier ones. */
static void limit_asan_quarantine(void)
{
    const char *old = getenv("ASAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=16", old ? old : "", old && *old ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
}

static void exec_broker(void)
{
    int log_fd = open(g.log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (log_fd < 0) _exit(126);
    /* If the test process dies (crash, CTest timeout), take the broker
     * down with it instead of leaving it running. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    close(log_fd);
    if (g.max_fds > 0) {
        struct rlimit rl = {.rlim_cur = (rlim_t)g.max_fds, .rlim_max = (rlim_t)g.max_fds};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) _exit(125);
    }
    limit_asan_quarantine();
    /* mqstated's configuration names the port (write_mqstated_config), so
     * a case may add listeners of its own in extra_yaml. */
    if (g.mqstated) execl(g.binary, g.binary, "-c", g.conf_path, "-v", (char *)NULL);
    else execl(g.binary, g.binary, "-c", g.conf_path, (char *)NULL);
    _exit(127);
}

static bool port_accepts(int port)
{
    int fd = raw_open(port);
    if (fd < 0) return false;
    close(fd);
    return true;
}

/* Waits until the broker accepts TCP connections, or dies, or time runs out. */
static bool wait_until_listening(void)
{
    int64_t deadline = e2e_now_ms() + START_WAIT_MS;
    while (e2e_now_ms() < deadline) {
        int status;
        if (waitpid(g.pid, &status, WNOHANG) == g.pid) {
            g.stopped = true;
            return false;
        }
        if (port_accepts(g.port)) return true;
        e2e_sleep_ms(10);
    }
    return false;
}

static bool start_broker(const struct e2e_limits *limits, const char *extra_yaml)
{
    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
        g.port = pick_free_port();
        g.stopped = false;
        g.signalled = false;
        g.exit_ok = false;
        if (g.port <= 0 || !write_config(limits, extra_yaml)) return false;
        fflush(NULL);
        g.pid = fork();
        if (g.pid < 0) return false;
        if (g.pid == 0) exec_broker();
        if (wait_until_listening()) return true;
        if (!g.stopped) { /* alive but never listened: give up on it */
            kill(g.pid, SIGKILL);
            waitpid(g.pid, NULL, 0);
            g.stopped = true;
            return false;
        }
        /* Exited early, most likely the port was taken meanwhile: retry. */
    }
    return false;
}

void e2e_signal_broker(int sig)
{
    if (g.stopped || g.signalled) return;
    kill(g.pid, sig);
    if (sig != SIGHUP) /* a reload: the broker keeps running */
        g.signalled = true;
}

bool e2e_stop_broker(void)
{
    if (g.stopped) return g.exit_ok;
    int status = 0;
    e2e_signal_broker(SIGTERM);
    int64_t deadline = e2e_now_ms() + STOP_WAIT_MS;
    pid_t r;
    while ((r = waitpid(g.pid, &status, WNOHANG)) == 0 && e2e_now_ms() < deadline) e2e_sleep_ms(10);
    if (r == 0) {
        fprintf(stderr, "  broker did not exit within %d ms of SIGTERM, killing\n", STOP_WAIT_MS);
        kill(g.pid, SIGKILL);
        waitpid(g.pid, &status, 0);
        g.exit_ok = false;
    } else if (WIFEXITED(status)) {
        g.exit_ok = WEXITSTATUS(status) == 0;
        if (!g.exit_ok) fprintf(stderr, "  broker exited with status %d\n", WEXITSTATUS(status));
    } else {
        g.exit_ok = false;
        fprintf(stderr, "  broker killed by signal %d\n", WTERMSIG(status));
    }
    g.stopped = true;
    return g.exit_ok;
}

bool e2e_restart_broker(int sig, int down_ms)
{
    if (sig == SIGKILL && !g.stopped) {
        kill(g.pid, SIGKILL);
        waitpid(g.pid, NULL, 0);
        g.stopped = true;
    } else if (!e2e_stop_broker()) {
        return false;
    }
    if (down_ms > 0) e2e_sleep_ms(down_ms);
    return start_broker(g.limits, g.extra_yaml);
}

const char *e2e_dir(void) { return g.dir; }

long e2e_broker_rss_kib(void)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)g.pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

static void dump_log(void)
{
    FILE *f = fopen(g.log_path, "r");
    char line[1024];
    if (!f) return;
    fprintf(stderr, "  ---- broker log (%s) ----\n", g.binary);
    while (fgets(line, sizeof line, f)) fprintf(stderr, "  | %s", line);
    fprintf(stderr, "  ---- end of broker log ----\n");
    fclose(f);
}

/* Remove path and, if it is a directory, what is in it (a case's
 * persistence.dir: no deeper levels). */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    char sub[PATH_MAX + 256];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        DIR *inner = opendir(sub);
        if (inner) {
            closedir(inner);
            remove_tree(sub);
        } else {
            unlink(sub);
        }
    }
    closedir(d);
    rmdir(path);
}

static void remove_temp_dir(void) { remove_tree(g.dir); }

enum outcome { PASSED, FAILED, SKIPPED };

static enum outcome run_case(const struct e2e_case *c)
{
    g.case_name = c->name;
    g.failed = false;
    g.max_fds = c->max_fds;
    g.limits = c->limits;
    g.extra_yaml = c->extra_yaml;
    if (!g.mqstated && c->mqstated_only) {
        fprintf(stderr, "SKIP %s (mqstated only: %s)\n", c->name, c->mqstated_only);
        return SKIPPED;
    }
    snprintf(g.dir, sizeof g.dir, "%s/mqs-e2e-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g.dir)) {
        perror("mkdtemp");
        return FAILED;
    }
    snprintf(g.log_path, sizeof g.log_path, "%s/broker.log", g.dir);
    int64_t started = e2e_now_ms();
    if (c->prepare && !c->prepare()) {
        e2e_fail(__FILE__, __LINE__, "preparing the case failed");
    } else if (!start_broker(c->limits, c->extra_yaml)) {
        e2e_fail(__FILE__, __LINE__, "broker %s did not start listening", g.binary);
    } else {
        c->run();
        tc_destroy_all();
        raw_close_all();
        if (!e2e_stop_broker()) e2e_fail(__FILE__, __LINE__, "broker did not exit cleanly with status 0");
    }
    if (g.failed) dump_log();
    remove_temp_dir();
    fprintf(stderr, "%s %s (%lld ms)\n", g.failed ? "FAIL" : "PASS", c->name, (long long)(e2e_now_ms() - started));
    return g.failed ? FAILED : PASSED;
}

static bool selected(const char *name, int argc, char **argv)
{
    if (argc <= 1) return true;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0) return true;
    return false;
}

int e2e_main(const struct e2e_case *cases, int count, int argc, char **argv)
{
    int passed = 0, failed = 0, skipped = 0;
    /* A peer closing its socket must show up as an error, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stderr, NULL, _IOLBF, 0);
    select_broker();
    mosquitto_lib_init();
    fprintf(stderr, "broker under test: %s\n", g.binary);
    for (int i = 0; i < count; i++) {
        if (!selected(cases[i].name, argc, argv)) continue;
        switch (run_case(&cases[i])) {
        case PASSED: passed++; break;
        case FAILED: failed++; break;
        case SKIPPED: skipped++; break;
        }
    }
    mosquitto_lib_cleanup();
    fprintf(stderr, "%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    /* A failed CHECK returns early and may leave test-side allocations
     * behind; _exit skips LeakSanitizer so those do not bury the real
     * failure. Passing runs still exit normally and are leak-checked. */
    if (failed) {
        fflush(NULL);
        _exit(1);
    }
    return passed == 0 && skipped > 0 ? 77 : 0;
}

const char *e2e_log_path(void) { return g.log_path; }

const char *e2e_config_path(void) { return g.conf_path; }
