/* What a client can tell about its link to the hub from ZeroMQ's socket monitor: whether the
 * hub is there at all, whether it refused this party's key in the CURVE handshake (not
 * registered, or the wrong role for this endpoint), or whether the hub's key is not the one the
 * party was given (--server-key). Without it all three look the same: no answer. Part of
 * cdof_curve's library (the ZeroMQ part of common/). */
#ifndef CDOF_LINK_H
#define CDOF_LINK_H

typedef enum {
    CDOF_LINK_UNKNOWN,       /* nothing learnt yet */
    CDOF_LINK_NO_HUB,        /* connection attempts fail: nothing listens there */
    CDOF_LINK_CONNECTING,    /* connected, handshake not done */
    CDOF_LINK_UP,            /* handshake done: the hub admitted this key */
    CDOF_LINK_REFUSED,       /* the hub's handshake refused this key */
    CDOF_LINK_WRONG_HUB_KEY, /* the handshake failed: the hub's key is not --server-key */
} cdof_link_state_t;

typedef struct cdof_link cdof_link_t;

/* Watches socket (before it connects) through an inproc monitor on zctx. *out: caller closes
 * it BEFORE the socket (closing stops the socket's monitor). Returns 0 or a negative errno. */
int cdof_link_open(void *zctx, void *socket, cdof_link_t **out);

/* Reads the events waiting (never blocks) and returns the state they lead to. A failure of the
 * handshake stays the state until a later handshake succeeds. */
cdof_link_state_t cdof_link_poll(cdof_link_t *link);

/* How many handshakes have succeeded since cdof_link_open, as far as cdof_link_poll has read:
 * a count that moved while a question was out means the connection was made anew (the hub
 * restarted, or the network dropped it), and the question may have been lost with the old one. */
unsigned cdof_link_ups(const cdof_link_t *link);

/* The monitor's socket, to wait on with zmq_poll. */
void *cdof_link_socket(cdof_link_t *link);

/* One sentence for a person: what the state means and what to do. Static text. */
const char *cdof_link_describe(cdof_link_state_t state);

/* A short word for status output: unknown, no_hub, connecting, up, refused, wrong_hub_key. */
const char *cdof_link_name(cdof_link_state_t state);

/* Stops the socket's monitor and closes the watching side; the socket stays open. Must come
 * before zmq_close of the socket: a monitor left without a reader blocks the context's I/O
 * thread at its next event, and with it every socket of the context. */
void cdof_link_close(cdof_link_t **link);

#endif
