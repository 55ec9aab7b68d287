/* PX expiry (protocol §6.2, §6.6): lazy invisibility after the deadline,
 * NEX renewal extending the lease, and active expiry pushing NOTIFY DELETE
 * to a watcher without any client touching the key. */
#include <string.h>

#include "ssclient.h"

#define SS_ONLY "state store protocol"

static void px_hides_key_after_deadline(void)
{
    struct ss_client a;
    struct ss_reply r;
    CHECK(ss_open(&a, "px"));
    int64_t sent = e2e_now_ms();
    SS_CMD(&a, NULL, r, "SET", "short", "lived", "PX", "500");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "GET", "short");
    CHECK_REPLY(r, "$5\r\nlived\r\n");
    /* The check above must have happened before the deadline to mean
     * anything. */
    CHECK(e2e_now_ms() - sent < 500);
    tc_pump_for((int)(sent + 600 - e2e_now_ms()));
    SS_CMD(&a, NULL, r, "GET", "short");
    CHECK_REPLY(r, "$-1\r\n");
    CHECK(!ss_reply_has_ts(&r));
}

static void nex_renewal_extends_expiry(void)
{
    struct ss_client a;
    struct ss_reply r;
    CHECK(ss_open(&a, "lease"));
    int64_t start = e2e_now_ms();
    SS_CMD(&a, NULL, r, "SET", "LockName", "Client1", "NEX", "PX", "800");
    CHECK_REPLY(r, "+OK\r\n");
    tc_pump_for((int)(start + 500 - e2e_now_ms()));
    int64_t renewed = e2e_now_ms();
    SS_CMD(&a, NULL, r, "SET", "LockName", "Client1", "NEX", "PX", "800");
    CHECK_REPLY(r, "+OK\r\n");
    /* Past the original deadline, before the renewed one. */
    tc_pump_for((int)(start + 1000 - e2e_now_ms()));
    SS_CMD(&a, NULL, r, "GET", "LockName");
    CHECK(e2e_now_ms() < renewed + 800);
    CHECK_REPLY(r, "$7\r\nClient1\r\n");
    tc_pump_for((int)(renewed + 900 - e2e_now_ms()));
    SS_CMD(&a, NULL, r, "GET", "LockName");
    CHECK_REPLY(r, "$-1\r\n");
}

static void active_expiry_notifies_watcher(void)
{
    struct ss_client w, b;
    struct ss_reply r;
    char topic[512];
    CHECK(ss_open(&w, "watcher"));
    CHECK(ss_open(&b, "writer"));
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "lease");
    CHECK_REPLY(r, "+OK\r\n");
    int64_t sent = e2e_now_ms();
    SS_CMD(&b, NULL, r, "SET", "lease", "holder", "PX", "500");
    CHECK_REPLY(r, "+OK\r\n");
    int64_t replied = e2e_now_ms();
    ss_notify_topic(topic, sizeof topic, "watcher", "lease", 5);
    /* First the SET notification, then the DELETE from the expiry. */
    PUMP_UNTIL(ss_note(&w, topic, 1) != NULL, 3000);
    int64_t arrived = e2e_now_ms();
    CHECK(ss_note(&w, topic, 1) != NULL);
    e2e_note("DELETE arrived %lld ms after the SET reply (deadline 500 ms)",
             (long long)(arrived - replied));
    CHECK_PAYLOAD(ss_note(&w, topic, 1), SS_NOTE_DELETE, strlen(SS_NOTE_DELETE));
    char ts[128];
    CHECK(ss_user_prop(ss_note(&w, topic, 1)->props, "__ts", ts, sizeof ts));
    CHECK(arrived >= sent + 490);       /* not before the deadline */
    CHECK(arrived < replied + 500 + 1000); /* active, prompt */
    tc_pump_for(200);
    CHECK_INT(ss_note_total(&w), 2);
}

static const struct e2e_case cases[] = {
    {"px_hides_key_after_deadline", px_hides_key_after_deadline, NULL, SS_ONLY},
    {"nex_renewal_extends_expiry", nex_renewal_extends_expiry, NULL, SS_ONLY},
    {"active_expiry_notifies_watcher", active_expiry_notifies_watcher, NULL, SS_ONLY},
};

int main(int argc, char **argv)
{
    return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
}
