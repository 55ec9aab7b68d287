/* End-to-end test harness: runs the broker under test as a child process and
 * drives a table of test cases against it.
 *
 * The broker is chosen by the environment:
 *   MQS_TEST_BROKER=mosquitto  -> /usr/sbin/mosquitto (reference broker)
 *   MQS_TEST_BROKER=/path/bin  -> that mqstated binary
 *   otherwise                  -> $MQSTATED (set by CTest to the built target)
 *
 * Every case gets a fresh broker on a fresh port, so cases are independent
 * and executables can run in parallel (ctest -j). */
#ifndef MQS_E2E_HARNESS_H
#define MQS_E2E_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Broker limits a case may override; 0 (the value of an omitted field in a
 * designated initializer) keeps the broker default. Names follow mqstated's
 * YAML keys. */
struct e2e_limits {
    long max_packet_size;
    long receive_maximum;
    long max_inflight;
    long max_queued_messages;
    long max_topic_levels;
    long max_connections;
    long keepalive_max;
    long topic_alias_maximum;
    long max_backlog_bytes;
    long max_queued_bytes;
    long slow_subscriber_timeout;
};

struct e2e_case {
    const char *name;
    void (*run)(void);
    /* NULL: broker defaults. */
    const struct e2e_limits *limits;
    /* Why the case cannot run against Mosquitto; NULL if it can. A case with
     * a reason is reported as SKIP (not PASS) when the broker is Mosquitto. */
    const char *mqstated_only;
    /* Extra YAML appended to mqstated's configuration (e.g. a `store:`
     * section); NULL for none. Mosquitto ignores it. */
    const char *extra_yaml;
    /* The broker's limit of open files (RLIMIT_NOFILE); 0 keeps ours. */
    long max_fds;
    /* Run in the case's directory (e2e_dir) before the broker starts, e.g.
     * to make the files extra_yaml names; false fails the case. NULL: none. */
    bool (*prepare)(void);
};

/* Runs the cases named on the command line (all if none) and returns the
 * process exit status: 0 all passed, 1 any failed, 77 all skipped. */
int e2e_main(const struct e2e_case *cases, int count, int argc, char **argv);

/* --- state of the running case ------------------------------------------ */
int e2e_port(void);
pid_t e2e_broker_pid(void);
bool e2e_is_mqstated(void);
/* The configuration file the running broker was started with (a case may
 * rewrite it and send SIGHUP to test a reload). */
const char *e2e_config_path(void);
/* Stops the broker (SIGTERM, then SIGKILL after a timeout) and reports
 * whether it exited cleanly with status 0. Idempotent. */
bool e2e_stop_broker(void);
/* Sends a signal without waiting. After a stop signal (anything but
 * SIGHUP, which reloads the configuration) a later
 * e2e_stop_broker then only waits for the exit. */
void e2e_signal_broker(int sig);
/* Stop the broker (sig SIGTERM: cleanly, as e2e_stop_broker; SIGKILL: a
 * crash), wait down_ms, and start it again with the case's configuration, on a new port
 * (e2e_port). An `@DIR@` in the case's extra_yaml stands for the case's
 * temporary directory (e2e_dir), removed with everything in it at the end. */
bool e2e_restart_broker(int sig, int down_ms);
const char *e2e_dir(void);
/* The broker's log file (its stdout and stderr). */
const char *e2e_log_path(void);
/* Resident set size of the broker in KiB, or -1. */
long e2e_broker_rss_kib(void);

/* Records a failure of the current case; the CHECK macros call this. */
void e2e_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool e2e_failed(void);
/* For a check where Mosquitto 2.0.11 (the reference broker) knowingly deviates
 * from MQTT 5 or from mqstated's documented behaviour: returns true, and
 * prints the deviation, when the broker is Mosquitto, so the caller skips
 * only that check; returns false against mqstated. */
bool e2e_mosquitto_deviates(const char *what);
/* Prints a progress/diagnostic note attached to the current case. */
void e2e_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- time ----------------------------------------------------------------- */
int64_t e2e_now_ms(void);
void e2e_sleep_ms(int ms);

/* --- assertions: on failure, record and return from the test function ---- */
#define CHECK(cond)                                           \
    do {                                                      \
        if (!(cond)) {                                        \
            e2e_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); \
            return;                                           \
        }                                                     \
    } while (0)

#define CHECK_INT(actual, expected)                                                                               \
    do {                                                                                                          \
        long long a_ = (long long)(actual), e_ = (long long)(expected);                                           \
        if (a_ != e_) {                                                                                           \
            e2e_fail(__FILE__, __LINE__, "%s == %lld (0x%llx), expected %lld (0x%llx)", #actual, a_, a_, e_, e_); \
            return;                                                                                               \
        }                                                                                                         \
    } while (0)

#define CHECK_STR(actual, expected)                                                                         \
    do {                                                                                                    \
        const char *a_ = (actual), *e_ = (expected);                                                        \
        if (a_ == NULL || strcmp(a_, e_) != 0) {                                                            \
            e2e_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #actual, a_ ? a_ : "(null)", e_); \
            return;                                                                                         \
        }                                                                                                   \
    } while (0)

#endif
