/* Ingest's batch (docs/DESIGN.md "Delivery", PROTOCOL.md "Ingest"): the envelopes read from the
 * ingest socket in one turn are validated against their senders' scopes and applied in one
 * write transaction (points, period index, milestones, rejections, each agent's record and
 * high-water mark); ingest then only marks what it wrote (hub_settle_touch). The
 * acknowledgements are handed out only after the commit returns. No sockets: hub_ingest_batch
 * (hub_ingest_net.c) reads the ROUTER socket into a batch and sends what this hands out.
 *
 *   hub_batch_take     for each envelope read (after its sender's identity is checked);
 *   hub_batch_commit   then, once;
 *   hub_batch_acks     after it returned 0: one Ack (or a few, for many entries) per agent;
 *   hub_batch_clear    before the next batch: forgets the envelopes and frees the arena. */
#ifndef CDOF_HUB_INGEST_H
#define CDOF_HUB_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "cdof_wire.h"
#include "hub.h"
#include "hub_keys.h"

#define HUB_BATCH_MAX 1000 /* envelopes in one group commit */

/* Envelopes of one agent taken into one batch; more are dropped unanswered, and the agent's
 * next one gets resend_from. Agents send at most --window (<= 512) unacknowledged. One sender
 * cannot fill a batch that others are waiting on. */
#define HUB_MAX_UNACKED_PER_AGENT 512

/* *out (hub_batch_destroy) holds up to HUB_BATCH_MAX envelopes. Returns 0 or -ENOMEM. */
int hub_batch_new(const hub_t *hub, hub_batch_t **out);
void hub_batch_destroy(hub_batch_t **b);
void hub_batch_clear(hub_batch_t *b);

/* The arena envelopes are decoded into: they live until hub_batch_clear. */
cdof_wire_arena_t *hub_batch_arena(hub_batch_t *b);

/* Envelopes taken since the last clear. */
size_t hub_batch_size(const hub_batch_t *b);

/* Takes env (borrowed until hub_batch_clear), read from connection rid and sent by party (the
 * key's registry entry; NULL with --insecure). bad: non-empty when env is decodable enough to be
 * answered but is to be rejected with that reason. Returns 0 when taken, 1 when dropped
 * unanswered (the batch is full, or the agent has HUB_MAX_UNACKED_PER_AGENT in it), or -ENOMEM. */
int hub_batch_take(hub_batch_t *b, const uint8_t *rid, size_t rid_len, Cdof__V1__Envelope *env,
                   const char *bad, const hub_party_t *party);

/* Applies the batch in one write transaction (tried again on a grown map when it fills) and
 * settles what it marked as hub_settle_ingested does. Returns 0 (the changes of alerts are ready
 * for hub_publish) or a negative code with nothing stored: then nothing may be acknowledged. */
int hub_batch_commit(hub_t *hub, hub_batch_t *b);

/* Hands each agent's acknowledgement to reply, addressed to the connection of its latest
 * envelope: the entries (ACCEPTED, DUPLICATE, REJECTED with the reason), the high-water mark,
 * whether it answers a heartbeat, and resend_from when a gap was seen. */
typedef void (*hub_batch_reply_fn)(void *ctx, const uint8_t *rid, size_t rid_len,
                                   const Cdof__V1__Ack *ack);
void hub_batch_acks(hub_batch_t *b, hub_batch_reply_fn reply, void *ctx);

/* The socket's side, in the daemon (hub_ingest_net.c, linked into cdof-hub only): reads what
 * waits on the ingest socket (up to HUB_BATCH_MAX) into hub->batch, commits it in one transaction
 * (hub_batch_commit), then acknowledges and publishes the alerts it stored. Returns how many
 * envelopes were committed (0 when none waited), or a negative code with nothing acknowledged. */
int hub_ingest_batch(hub_t *hub);

#endif
