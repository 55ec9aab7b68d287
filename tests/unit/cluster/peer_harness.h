/* In-process node links for the peer tests: several peer_nets on one
 * libuv loop, on free 127.0.0.1 ports, recording what they receive. */
#ifndef MQS_TEST_PEER_HARNESS_H
#define MQS_TEST_PEER_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "cluster/peer.h"

#define TN_MAX_ID 16 /* ids 1..TN_MAX_ID-1 */

typedef struct tnode {
    peer_net *pn;
    uint64_t id;
    char addr[32];
    uint64_t recv[TN_MAX_ID]; /* frames received from each id, in order */
    uint64_t bytes[TN_MAX_ID];
    bool order_ok; /* every frame carried the next sequence number of its sender */
    int ups[TN_MAX_ID], downs[TN_MAX_ID];
    bool closed;
    bool close_in_frame; /* peer_net_close from inside the first on_frame */
    bool close_done;     /* its close callback ran */
} tnode;

/* A free TCP port on 127.0.0.1 (bound and released: the tests use it at once). */
uint16_t tn_free_port(void);
/* Frames carry the sender's sequence number in their first 8 bytes. */
int tn_send_seq(tnode *from, uint64_t to, uint64_t seq, size_t len);
/* Start t (its addr and id set) with members[0..n); NULL cfg fields
 * default. Asserts success. */
void tn_start(uv_loop_t *loop, tnode *t, const char *cluster, const peer_member *members, size_t n,
              const peer_net_config *tmpl);
/* peer_net_close and run the loop until its callback ran. */
void tn_stop(uv_loop_t *loop, tnode *t);
/* Run the loop until cond(ctx) or timeout_ms passed; returns cond(ctx). */
bool tn_run_until(uv_loop_t *loop, bool (*cond)(void *ctx), void *ctx, unsigned timeout_ms);
/* Run the loop for ms milliseconds. */
void tn_run_for(uv_loop_t *loop, unsigned ms);
/* After the last tn_stop: run the loop to idle, close it (asserts nothing is left). */
void tn_loop_done(uv_loop_t *loop);

#endif
