/* Durable sessions: the records of sessions, subscriptions, queued and
 * in-flight messages and inbound QoS 2 state (broker_persist.h).
 * Sessions are not selected for durability by any configuration yet
 * (config.c refuses persistence.sessions), so no such record is ever
 * written; one found in a log is from a newer format. */
#include "broker/internal.h"

const char *broker__session_replay(broker *b, uint8_t type, const uint8_t *p, size_t n)
{
    (void)b, (void)type, (void)p, (void)n;
    return "session record not supported by this version";
}

void broker__session_replay_done(broker *b, broker_persist_restored *out) { (void)b, (void)out; }

bool broker__session_snapshot(const broker *b, broker_persist_write_fn fn, void *ctx)
{
    (void)b, (void)fn, (void)ctx;
    return true;
}
