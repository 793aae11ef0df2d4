/* The sender: outbox entries to the hub over a ZeroMQ DEALER inside the libuv loop, exactly as
 * proto/PROTOCOL.md says (window, heartbeats, acks, resend_from, dead-hub detection).
 *
 * The outbox is the truth: the sender keeps in memory only which sequences are in flight and
 * which acknowledgements it has yet to record. The hub acknowledges only what it has committed,
 * so the sender records acknowledgements in the outbox in groups, at most
 * AGENT_SENDER_SETTLE_DELAY_MS after they arrive (sooner when many wait, before a heartbeat, a
 * resend, a rejection, the end of a drain and close): one fsync for many ack messages. An agent
 * that crashes in between sends those entries again and the hub answers DUPLICATE. With more
 * waiting than the window has room for, the sender refills the window a quarter at a time: each
 * refill reads the outbox in one read transaction. */
#ifndef AGENT_SENDER_H
#define AGENT_SENDER_H

#include <uv.h>

#include "cdof_curve.h"

#include "agent_outbox.h"

typedef struct agent_sender agent_sender_t;

#define AGENT_SENDER_SETTLE_DELAY_MS 50

/* What the sender holds in memory and has done, for tests and the benchmark. */
typedef struct {
    size_t in_flight;        /* sent, not yet acknowledged */
    size_t unrecorded;       /* acknowledged, not yet recorded in the outbox */
    uint64_t acks_recorded;  /* acknowledgements recorded so far */
    uint64_t settle_commits; /* write transactions that recorded them */
    bool connected;          /* the hub answered this connection's first heartbeat */
} agent_sender_stats_t;

typedef struct {
    const char *endpoint; /* copied */
    const char *agent_id; /* copied */
    long window;          /* unacknowledged envelopes in flight */
    long heartbeat_ms;
    long ack_timeout_ms;
    long retain_ms;            /* how long settled entries are kept for a hub's resend_from */
    const cdof_curve_t *curve; /* borrowed for the sender's life; NULL or --insecure: plain TCP */
    long settle_delay_ms;      /* 0: AGENT_SENDER_SETTLE_DELAY_MS (tests set more) */
} agent_sender_opts_t;

/* zctx and ob are borrowed for the sender's life. *out is owned by the caller:
 * agent_sender_close, run the loop until the handles are closed, agent_sender_destroy. */
int agent_sender_new(uv_loop_t *loop, void *zctx, agent_outbox_t *ob,
                     const agent_sender_opts_t *opts, agent_sender_t **out, char *err,
                     size_t errlen);

/* Connects (the first message is a heartbeat) and starts the timers. */
int agent_sender_start(agent_sender_t *s, char *err, size_t errlen);

/* New entries are in the outbox: send what the window allows. */
void agent_sender_kick(agent_sender_t *s);

/* New timings from a reloaded configuration. */
void agent_sender_tune(agent_sender_t *s, long window, long heartbeat_ms, long ack_timeout_ms);

/* Stops sending new entries and calls done(arg) once nothing is in flight or timeout_ms passed,
 * after recording the acknowledgements received. */
void agent_sender_drain(agent_sender_t *s, long timeout_ms, void (*done)(void *arg), void *arg);

/* Fills *st from memory: no store access, cheap enough to call often. */
void agent_sender_stats(const agent_sender_t *s, agent_sender_stats_t *st);

/* Records any acknowledgements still waiting, then closes the socket and the handles (the loop
 * finishes closing them). The outbox must still be open. */
void agent_sender_close(agent_sender_t *s);
void agent_sender_destroy(agent_sender_t **s);

#endif
