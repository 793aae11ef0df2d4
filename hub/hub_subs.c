/* Subscriptions to the alert endpoint, decided by the hub (XPUB with ZMQ_XPUB_MANUAL): a
 * subscriber's topics must look like alert topics and each connection may hold at most
 * HUB_SUBS_PER_CONNECTION of them, so no subscriber can grow the hub's subscription tree without
 * bound. ZeroMQ frees a connection's subscriptions when it ends; the socket monitor's
 * disconnection events free the hub's record of them. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cdof_log.h"
#include "cdof_zmq.h"
#include "hub.h"
#include "hub_alerts.h"
#include "hub_keys.h"
#include "hub_subs.h"

#define SUBS_PER_TURN 256     /* subscription messages handled per call: bounded work */
#define FD_MAX        1048576 /* connections are file descriptors: far below this */

typedef struct {
    size_t n;
    char topics[HUB_SUBS_PER_CONNECTION][HUB_SUB_TOPIC_MAX + 1];
} conn_t;

struct hub_subs {
    void *mon;  /* PAIR on the XPUB's monitor */
    bool rearm; /* its monitor was taken: watch again once the endpoint's reopening is over */
    char ep[64];
    conn_t **by_fd;
    size_t nfd;
    uint64_t refused;
};

static int watch(hub_t *hub)
{
    struct hub_subs *s = hub->subs;
    if (s->mon)
        zmq_close(s->mon);
    s->mon = NULL;
    int linger = 0;
    if (zmq_socket_monitor(hub->pub, s->ep, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_MONITOR_STOPPED) <
            0 ||
        !(s->mon = zmq_socket(hub->zctx, ZMQ_PAIR)) ||
        zmq_setsockopt(s->mon, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_connect(s->mon, s->ep) < 0) {
        int e = zmq_errno();
        /* A monitor nobody reads blocks the context's I/O thread at its next event. */
        zmq_socket_monitor(hub->pub, NULL, 0);
        return -e;
    }
    return 0;
}

int hub_subs_open(hub_t *hub, void *xpub)
{
    int manual = 1;
    if (zmq_setsockopt(xpub, ZMQ_XPUB_MANUAL, &manual, sizeof manual) < 0)
        return -zmq_errno();
    if (!hub->subs && !(hub->subs = calloc(1, sizeof *hub->subs)))
        return -ENOMEM;
    snprintf(hub->subs->ep, sizeof hub->subs->ep, "inproc://cdof-hub-subs-%p", (void *)hub);
    hub->pub = xpub;
    return watch(hub);
}

static void forget_all(struct hub_subs *s)
{
    for (size_t i = 0; i < s->nfd; i++) {
        free(s->by_fd[i]);
        s->by_fd[i] = NULL;
    }
}

void hub_subs_close(hub_t *hub)
{
    if (!hub->subs)
        return;
    /* Stop the monitor before closing its reader: libzmq sends events from the I/O thread and
     * blocks there when they cannot be delivered, and zmq_ctx_term would wait for ever. */
    if (hub->pub)
        zmq_socket_monitor(hub->pub, NULL, 0);
    if (hub->subs->mon)
        zmq_close(hub->subs->mon);
    forget_all(hub->subs);
    free(hub->subs->by_fd);
    free(hub->subs);
    hub->subs = NULL;
}

void *hub_subs_monitor(const hub_t *hub)
{
    return hub->subs ? hub->subs->mon : NULL;
}

/* True when topic (len bytes) may be a subscription: empty (every alert) or a prefix of an
 * alert topic's shape, "alert/" then letters, digits, '_' and '/'. */
static bool topic_ok(const char *t, size_t len)
{
    static const char lead[] = "alert/";
    if (len > HUB_SUB_TOPIC_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = t[i];
        if (i < sizeof lead - 1 ? c != lead[i]
                                : !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                    (c >= '0' && c <= '9') || c == '_' || c == '/'))
            return false;
    }
    return true;
}

static conn_t *conn_of(struct hub_subs *s, int fd)
{
    if (fd < 0 || fd >= FD_MAX)
        return NULL;
    if ((size_t)fd >= s->nfd) {
        size_t n = (size_t)fd + 64;
        conn_t **p = realloc(s->by_fd, n * sizeof *p);
        if (!p)
            return NULL;
        memset(p + s->nfd, 0, (n - s->nfd) * sizeof *p);
        s->by_fd = p;
        s->nfd = n;
    }
    if (!s->by_fd[fd])
        s->by_fd[fd] = calloc(1, sizeof *s->by_fd[fd]);
    return s->by_fd[fd];
}

static long find(const conn_t *c, const char *t, size_t len)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strlen(c->topics[i]) == len && memcmp(c->topics[i], t, len) == 0)
            return (long)i;
    }
    return -1;
}

/* Handles one (un)subscription message. In manual mode ZeroMQ applies a subscription only when
 * the hub sets it, and applies it to the connection the last message came from. */
static void decide(hub_t *hub, zmq_msg_t *m)
{
    struct hub_subs *s = hub->subs;
    size_t size = zmq_msg_size(m);
    const char *data = zmq_msg_data(m);
    int fd = zmq_msg_get(m, ZMQ_SRCFD);
    /* Unsubscriptions ZeroMQ makes for a connection that ended carry no descriptor: it has
     * removed that connection's subscriptions itself, and another's must not be touched. */
    if (size == 0 || fd < 0 || (data[0] != 0 && data[0] != 1))
        return;
    const char *topic = data + 1;
    size_t len = size - 1;
    conn_t *c = conn_of(s, fd);
    if (!c)
        return;
    long at = find(c, topic, len);
    if (data[0] == 0) {
        if (at < 0)
            return; /* never applied */
        zmq_setsockopt(hub->pub, ZMQ_UNSUBSCRIBE, topic, len);
        memmove(c->topics[at], c->topics[at + 1], (c->n - (size_t)at - 1) * sizeof c->topics[0]);
        c->n--;
        return;
    }
    const char *why = !topic_ok(topic, len)                       ? "not an alert topic"
                      : at < 0 && c->n == HUB_SUBS_PER_CONNECTION ? "one connection's limit"
                                                                  : NULL;
    if (why) {
        s->refused++;
        const char *who = zmq_msg_gets(m, "User-Id"), *addr = zmq_msg_gets(m, "Peer-Address");
        const hub_party_t *p = who ? hub_keys_find(hub->keys, who) : NULL;
        cdof_log_warn("alerts: refused a subscription of %zu bytes from %s at %s: %s (%d "
                      "subscriptions of at most %d bytes each)",
                      len, p ? p->id : "a subscriber", addr ? addr : "?", why,
                      HUB_SUBS_PER_CONNECTION, HUB_SUB_TOPIC_MAX);
        return;
    }
    zmq_setsockopt(hub->pub, ZMQ_SUBSCRIBE, topic, len);
    if (at < 0) {
        memcpy(c->topics[c->n], topic, len);
        c->topics[c->n++][len] = '\0';
    }
}

bool hub_subs_handle(hub_t *hub)
{
    struct hub_subs *s = hub->subs;
    if (!s)
        return false;
    /* A socket has one monitor: reopening the endpoint (hub_auth.c) takes it for a while. */
    if (s->rearm && !hub->reopening) {
        s->rearm = false;
        if (watch(hub) < 0)
            cdof_log_error("alerts: cannot watch subscribers again: %s", zmq_strerror(zmq_errno()));
    }
    /* Disconnections first, so that a descriptor reused by a new connection starts empty. */
    for (int i = 0; s->mon && i < SUBS_PER_TURN; i++) {
        zmq_msg_t ev;
        zmq_msg_init(&ev);
        if (cdof_zmq_msg_recv(&ev, s->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            break;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&ev) >= 6) {
            memcpy(&event, zmq_msg_data(&ev), 2);
            memcpy(&value, (const char *)zmq_msg_data(&ev) + 2, 4);
        }
        bool more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        if (more) { /* the endpoint */
            zmq_msg_init(&ev);
            cdof_zmq_msg_recv(&ev, s->mon, 0);
            zmq_msg_close(&ev);
        }
        if (event == ZMQ_EVENT_DISCONNECTED && value < s->nfd) {
            free(s->by_fd[value]);
            s->by_fd[value] = NULL;
        } else if (event == ZMQ_EVENT_MONITOR_STOPPED) {
            /* Another monitor took the socket's (a revoked reader's subscribers are cut off by
             * closing the endpoint): every connection ends; watch again when that is over. */
            forget_all(s);
            zmq_close(s->mon);
            s->mon = NULL;
            s->rearm = true;
            break;
        }
    }
    for (int i = 0; i < SUBS_PER_TURN; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (cdof_zmq_msg_recv(&m, hub->pub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return false;
        }
        decide(hub, &m);
        zmq_msg_close(&m);
    }
    return true; /* more may wait: the serve loop comes back at once */
}

uint64_t hub_subs_refused(const hub_t *hub)
{
    return hub->subs ? hub->subs->refused : 0;
}

/* Two frames, topic then the packed Alert: subscribers filter on the first. */
static void send_alert(void *ctx, const char *topic, const uint8_t *alert, size_t len)
{
    void *pub = ctx;
    if (!pub)
        return;
    /* Both frames, whatever signal arrives: a topic left open would take the next alert's
     * topic as its body. */
    cdof_zmq_send(pub, topic, strlen(topic), ZMQ_SNDMORE);
    cdof_zmq_send(pub, alert, len, 0);
}

void hub_publish(hub_t *hub)
{
    hub->counters.alerts += hub_alerts_publish(hub->alerts, send_alert, hub->pub);
}
