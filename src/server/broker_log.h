/* The broker's durable state in the node's log (issue 11): binds the
 * broker's persistence seam (broker/broker_persist.h) to store_log's
 * local records, so retained messages and sessions share the state
 * store's file, group commit and snapshots. */
#ifndef MQS_SERVER_BROKER_LOG_H
#define MQS_SERVER_BROKER_LOG_H

#include "broker/broker_persist.h"
#include "server/store_log.h"

/* Before store_log_attach (which replays the broker's records): make sl
 * the broker's sink and b the owner of sl's local records. sel is copied
 * by the broker. */
void broker_log_bind(broker *b, store_log *sl, const broker_persist_select *sel);

/* A snapshot_locals_fn (store/snapshot.h; ctx: the broker): the broker's
 * durable state as LOCL records (in the forked child: no allocation).
 * Also the raft snapshot's (server/cluster_records.c). */
bool broker_log_snapshot(void *b, snapshot_emit_fn emit, void *emit_ctx);

/* After the replay: end it and log what was restored. */
void broker_log_replay_done(broker *b);

#endif
