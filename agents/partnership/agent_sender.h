/* The sender: outbox entries to the hub over a ZeroMQ DEALER inside the libuv loop, exactly as
 * proto/PROTOCOL.md says (window, heartbeats, acks, resend_from, dead-hub detection).
 *
 * The outbox is the truth: the sender keeps in memory only which sequences are in flight. */
#ifndef AGENT_SENDER_H
#define AGENT_SENDER_H

#include <uv.h>

#include "cdof_curve.h"

#include "agent_outbox.h"

typedef struct agent_sender agent_sender_t;

typedef struct {
    const char *endpoint; /* copied */
    const char *agent_id; /* copied */
    long window;          /* unacknowledged envelopes in flight */
    long heartbeat_ms;
    long ack_timeout_ms;
    long retain_ms;            /* how long settled entries are kept for a hub's resend_from */
    const cdof_curve_t *curve; /* borrowed for the sender's life; NULL or --insecure: plain TCP */
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

/* Stops sending new entries and calls done(arg) once nothing is in flight or timeout_ms passed. */
void agent_sender_drain(agent_sender_t *s, long timeout_ms, void (*done)(void *arg), void *arg);

/* Closes the socket and the handles (the loop finishes closing them). */
void agent_sender_close(agent_sender_t *s);
void agent_sender_destroy(agent_sender_t **s);

#endif
