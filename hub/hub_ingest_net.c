/* The ingest endpoint: reads what waits on the ROUTER socket into a batch (hub_ingest.h), checks
 * each sender's identity, has the batch committed, and only then sends the acknowledgements and
 * publishes the alerts it stored. PROTOCOL.md "Ingest" is the contract. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cdof_clock.h"
#include "cdof_error.h"
#include "cdof_log.h"
#include "cdof_zmq.h"
#include "cdof_wire.h"
#include "hub.h"
#include "hub_auth.h"
#include "hub_db.h"
#include "hub_ingest.h"
#include "hub_keys.h"
#include "hub_subs.h"

#define BATCH_MS 10 /* a batch stops reading after this long, so acks never wait on a flood */
#define RID_MAX  256

/* Decodes with bounds into the batch's arena. An envelope that fails the bounds but still names
 * an agent and a sequence is kept, with the reason in bad, so that the hub can answer REJECTED
 * and move the agent's mark; otherwise the agent would resend it for ever and stall behind it. */
static Cdof__V1__Envelope *decode(hub_batch_t *b, const void *data, size_t len, char *bad,
                                  size_t badlen, char *err, size_t errlen)
{
    ProtobufCAllocator *al = cdof_wire_arena_allocator(hub_batch_arena(b));
    Cdof__V1__Envelope *env = cdof_wire_envelope_decode_in(al, data, len, err, errlen);
    if (env || len > CDOF_WIRE_MAX_MESSAGE)
        return env;
    Cdof__V1__Envelope *raw = cdof__v1__envelope__unpack(al, len, data);
    if (!raw)
        return NULL;
    size_t idlen = raw->agent_id ? strlen(raw->agent_id) : 0;
    if (idlen == 0 || idlen >= HUB_DB_AGENT_MAX || raw->sequence == 0)
        return NULL; /* freed with the arena */
    snprintf(bad, badlen, "%s", err);
    return raw;
}

/* Packs ack and sends it to the connection rid (ctx: the ROUTER socket). ROUTER drops messages
 * to a peer that has gone; the agent resends after reconnecting, so nothing waits here. Packed
 * straight into the message ZeroMQ sends: no buffer of our own to allocate and copy from, 150
 * times a batch. */
static void send_to(void *ctx, const uint8_t *rid, size_t rid_len, const Cdof__V1__Ack *ack)
{
    void *sock = ctx;
    zmq_msg_t body;
    if (zmq_msg_init_size(&body, protobuf_c_message_get_packed_size(&ack->base)) != 0)
        return;
    protobuf_c_message_pack(&ack->base, zmq_msg_data(&body));
    if (cdof_zmq_send(sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        cdof_zmq_msg_send(&body, sock, ZMQ_DONTWAIT) < 0)
        zmq_msg_close(&body);
}

static void reply_rejected(hub_t *hub, const uint8_t *rid, size_t rid_len, uint64_t seq,
                           const char *reason)
{
    Cdof__V1__AckEntry e = CDOF__V1__ACK_ENTRY__INIT, *ep = &e;
    e.sequence = seq;
    e.status = CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED;
    e.reason = (char *)reason;
    Cdof__V1__Ack ack = CDOF__V1__ACK__INIT;
    ack.entries = &ep;
    ack.n_entries = 1;
    send_to(hub->ingest, rid, rid_len, &ack);
}

/* With CURVE the sender is the id the key registry gives its key, and the envelope must name
 * it. Agents leave their connection's routing id to ZeroMQ; older ones named it by their id
 * (ZMQ_ROUTING_ID), and such a name must be the agent's own. An envelope naming another agent is
 * refused without touching that agent's state, so nobody can move another's mark. Replies go to
 * the connection the envelope came on (rid), never to one looked up by agent id. */
static bool identity_ok(hub_t *hub, const uint8_t *rid, size_t rid_len, Cdof__V1__Envelope *env,
                        const hub_party_t *party, char *bad, size_t badlen)
{
    const char *id = env->agent_id;
    size_t idlen = strlen(id);
    char reason[CDOF_WIRE_MAX_TEXT];
    if (idlen >= HUB_DB_AGENT_MAX) {
        snprintf(reason, sizeof reason, "agent_id is %zu bytes, longer than %d", idlen,
                 HUB_DB_AGENT_MAX - 1);
    } else if (party && strcmp(party->id, id) != 0) {
        snprintf(reason, sizeof reason, "agent_id '%s' does not match this key's identity '%s'", id,
                 party->id);
    } else if (rid_len > 0 && rid[0] != 0 && (rid_len != idlen || memcmp(rid, id, idlen) != 0)) {
        snprintf(reason, sizeof reason,
                 "agent_id '%s' does not match this connection's identity '%.*s'", id, (int)rid_len,
                 (const char *)rid);
    } else {
        return true;
    }
    cdof_log_warn("ingest: refused seq %llu: %s", (unsigned long long)env->sequence, reason);
    if (party && env->sequence) {
        /* The key says whose stream this is, whatever the body claims: the envelope is settled
         * as REJECTED in the key's own sequence, so one sequence never gets two verdicts (a
         * later correct resend of it gets the same rejection). */
        env->agent_id = (char *)party->id;
        snprintf(bad, badlen, "%s", reason);
        return true;
    }
    if (env->sequence)
        reply_rejected(hub, rid, rid_len, env->sequence, reason);
    return false;
}

static int read_messages(hub_t *hub, hub_batch_t *b)
{
    int64_t until = cdof_clock_mono_ms() + BATCH_MS;
    for (size_t n = 0; hub_batch_size(b) < HUB_BATCH_MAX; n++) {
        if (n % 64 == 63 && cdof_clock_mono_ms() >= until)
            break;
        zmq_msg_t part;
        zmq_msg_init(&part);
        int rc = cdof_zmq_msg_recv(&part, hub->ingest, ZMQ_DONTWAIT);
        if (rc < 0) {
            zmq_msg_close(&part);
            if (rc == -EAGAIN)
                break;
            return rc;
        }
        uint8_t rid[RID_MAX];
        size_t rid_len = zmq_msg_size(&part) < sizeof rid ? zmq_msg_size(&part) : sizeof rid;
        memcpy(rid, zmq_msg_data(&part), rid_len);
        Cdof__V1__Envelope *env = NULL;
        const hub_party_t *party = NULL;
        int frames = 0, auth = 0;
        char err[CDOF_WIRE_MAX_TEXT], auth_err[CDOF_WIRE_MAX_TEXT], bad[CDOF_WIRE_MAX_TEXT];
        err[0] = auth_err[0] = bad[0] = '\0';
        while (zmq_msg_more(&part)) {
            zmq_msg_close(&part);
            zmq_msg_init(&part);
            if (cdof_zmq_msg_recv(&part, hub->ingest, 0) < 0)
                break;
            if (++frames == 1) {
                /* Who sent it comes from the handshake, never from the body. */
                auth = hub_auth_sender(hub, &part, "ingest", &party, auth_err, sizeof auth_err);
                if (auth == 0)
                    env = decode(b, zmq_msg_data(&part), zmq_msg_size(&part), bad, sizeof bad, err,
                                 sizeof err);
            }
        }
        zmq_msg_close(&part);
        if (auth < 0) {
            cdof_log_warn("ingest: dropped a message: %s", auth_err);
            hub->counters.rejected++;
            continue;
        }
        if (frames != 1 || !env) {
            /* Without an agent and a sequence there is nothing to answer; the log says why. */
            cdof_log_warn("ingest: dropped a message of %d frame(s): %s", frames,
                          frames == 1 ? err : "expected exactly one frame, an Envelope");
            hub->counters.rejected++;
            continue;
        }
        if (!identity_ok(hub, rid, rid_len, env, party, bad, sizeof bad)) {
            hub->counters.rejected++;
            continue;
        }
        rc = hub_batch_take(b, rid, rid_len, env, bad, party);
        if (rc < 0)
            return rc;
        if (rc > 0)
            cdof_log_debug("ingest: %s has more than %d envelopes in one batch: dropped seq %llu",
                           env->agent_id, HUB_MAX_UNACKED_PER_AGENT,
                           (unsigned long long)env->sequence);
    }
    return 0;
}

int hub_ingest_batch(hub_t *hub)
{
    /* One batch, kept for the process's life: one at a time on the hub's single thread. */
    if (!hub->batch && hub_batch_new(hub, &hub->batch) < 0)
        return -ENOMEM;
    hub_batch_t *b = hub->batch;
    int rc = read_messages(hub, b);
    size_t n = hub_batch_size(b);
    if (rc < 0 || n == 0) {
        hub_batch_clear(b); /* the envelopes read, with those dropped */
        return rc;
    }
    rc = hub_batch_commit(hub, b);
    if (rc == 0) {
        hub_batch_acks(b, send_to, hub->ingest);
        hub_publish(hub);
        rc = n > INT_MAX ? INT_MAX : (int)n;
    } else {
        /* Nothing acknowledged: the agents resend and nothing is lost. The serve loop says so
         * once per failure, not at every resend. */
        cdof_log_debug("ingest: commit of %zu envelope(s) failed: %s", n, cdof_strerror(rc));
    }
    hub_batch_clear(b); /* every envelope of the batch */
    return rc;
}
