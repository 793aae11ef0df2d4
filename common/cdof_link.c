#include "cdof_link.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cdof_zmq.h"

struct cdof_link {
    void *socket; /* borrowed: the watched socket, whose monitor cdof_link_close stops */
    void *pair;
    cdof_link_state_t state;
    unsigned ups; /* handshakes succeeded */
};

int cdof_link_open(void *zctx, void *socket, cdof_link_t **out)
{
    static unsigned counter;
    *out = NULL;
    cdof_link_t *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://cdof-link-%p-%u", (void *)l, counter++);
    int events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED |
                 ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    int linger = 0;
    if (zmq_socket_monitor(socket, ep, events) < 0 || !(l->pair = zmq_socket(zctx, ZMQ_PAIR)) ||
        zmq_setsockopt(l->pair, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_connect(l->pair, ep) < 0) {
        int e = zmq_errno();
        zmq_socket_monitor(socket, NULL, 0); /* a started monitor with nobody to read it blocks */
        if (l->pair)
            zmq_close(l->pair);
        free(l);
        return -e;
    }
    l->socket = socket;
    *out = l;
    return 0;
}

/* The state after one event. */
static cdof_link_state_t next_state(cdof_link_state_t s, uint16_t event)
{
    switch (event) {
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        return CDOF_LINK_UP;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        return CDOF_LINK_REFUSED; /* the hub's ZAP handler said no (ZMTP ERROR, status 400) */
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        return s == CDOF_LINK_REFUSED ? s : CDOF_LINK_WRONG_HUB_KEY;
    case ZMQ_EVENT_CONNECTED:
        return s == CDOF_LINK_REFUSED || s == CDOF_LINK_WRONG_HUB_KEY ? s : CDOF_LINK_CONNECTING;
    case ZMQ_EVENT_DISCONNECTED:
        /* A CURVE server that cannot open our HELLO (it was sealed for another key) closes the
         * connection without a word: connected, never shaken hands, gone. */
        return s == CDOF_LINK_CONNECTING ? CDOF_LINK_WRONG_HUB_KEY
               : s == CDOF_LINK_UP       ? CDOF_LINK_UNKNOWN
                                         : s;
    case ZMQ_EVENT_CONNECT_RETRIED:
        return s == CDOF_LINK_UNKNOWN ? CDOF_LINK_NO_HUB : s;
    default:
        return s;
    }
}

cdof_link_state_t cdof_link_poll(cdof_link_t *link)
{
    if (!link)
        return CDOF_LINK_UNKNOWN;
    for (int i = 0; i < 1000; i++) { /* bounded: events come a few a second at most */
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (cdof_zmq_msg_recv(&m, link->pair, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        uint16_t event = 0;
        if (zmq_msg_size(&m) >= 6)
            memcpy(&event, zmq_msg_data(&m), sizeof event);
        bool more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        while (more) { /* the endpoint frame */
            zmq_msg_init(&m);
            more = cdof_zmq_msg_recv(&m, link->pair, 0) == 0 && zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        link->state = next_state(link->state, event);
        link->ups += event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
    }
    return link->state;
}

unsigned cdof_link_ups(const cdof_link_t *link)
{
    return link ? link->ups : 0;
}

void *cdof_link_socket(cdof_link_t *link)
{
    return link ? link->pair : NULL;
}

const char *cdof_link_describe(cdof_link_state_t state)
{
    switch (state) {
    case CDOF_LINK_NO_HUB:
        return "no hub is listening at that endpoint (check --hub, and that the hub runs)";
    case CDOF_LINK_CONNECTING:
        return "connected, the hub has not completed the handshake";
    case CDOF_LINK_UP:
        return "the hub admitted this key";
    case CDOF_LINK_REFUSED:
        return "the hub refused this key (not registered, or the wrong role for this endpoint): "
               "ask the hub's operator to register this party's public key";
    case CDOF_LINK_WRONG_HUB_KEY:
        return "wrong hub key: the hub's handshake failed, so --server-key is not this hub's "
               "public key (or the hub runs without CURVE)";
    default:
        return "nothing known yet";
    }
}

const char *cdof_link_name(cdof_link_state_t state)
{
    static const char *const names[] = {"unknown", "no_hub",  "connecting",
                                        "up",      "refused", "wrong_hub_key"};
    return (unsigned)state < sizeof names / sizeof names[0] ? names[state] : "unknown";
}

void cdof_link_close(cdof_link_t **link)
{
    if (!link || !*link)
        return;
    /* libzmq sends a monitor's events from the context's I/O thread and blocks there while
     * they cannot be delivered: once this PAIR is gone, or its queue full, an event from the
     * still open socket (a connection made or dropped as it closes) would stop every socket of
     * the context for good. Read what waits, so that a send blocked on a full queue completes,
     * then stop the monitor (synchronous: no event is sent after it) before closing the PAIR. */
    (void)cdof_link_poll(*link);
    zmq_socket_monitor((*link)->socket, NULL, 0);
    zmq_close((*link)->pair);
    free(*link);
    *link = NULL;
}
