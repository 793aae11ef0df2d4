/* squat: a registered client that claims another agent's ingest connection by routing id, for
 * integration_routing_squat (deploy/SECURITY.md). Usage:
 *   squat ENDPOINT KEY SERVER_PUB ROUTING_ID SECONDS
 * For SECONDS, or until SIGTERM, connects a DEALER with the CURVE key KEY (the hub's public key in
 * SERVER_PUB) and ZMQ_ROUTING_ID set to ROUTING_ID, listens a quarter of a second, and connects
 * afresh, again and again: with ZMQ_ROUTER_HANDOVER each new connection would take the name over
 * from its owner. It sends nothing, so the hub owes it nothing. Prints "handshake N" as the hub
 * accepts each CURVE handshake, then "handshakes N received M" (M: messages the hub sent it), and
 * exits 0, or 1 with a reason on stderr. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cdof_clock.h"
#include "cdof_curve.h"

#define LISTEN_MS 250

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

/* One connection: LISTEN_MS on ep under rid; adds to *handshakes and *received. */
static int squat_once(void *zctx, const cdof_curve_t *curve, const char *ep, const char *rid, int n,
                      long *handshakes, long *received)
{
    char mon_ep[64];
    snprintf(mon_ep, sizeof mon_ep, "inproc://squat-mon-%d", n);
    void *s = zmq_socket(zctx, ZMQ_DEALER), *mon = zmq_socket(zctx, ZMQ_PAIR);
    int linger = 0, rc = -1;
    if (!s || !mon || cdof_curve_apply(curve, s, NULL) < 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, strlen(rid)) < 0 ||
        zmq_socket_monitor(s, mon_ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED) < 0 ||
        zmq_connect(mon, mon_ep) < 0 || zmq_connect(s, ep) < 0) {
        fprintf(stderr, "squat: cannot connect to %s: %s\n", ep, zmq_strerror(zmq_errno()));
        goto out;
    }
    int64_t until = cdof_clock_mono_ms() + LISTEN_MS;
    for (int64_t now; !stop && (now = cdof_clock_mono_ms()) < until;) {
        zmq_pollitem_t items[] = {{s, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, (long)(until - now)) < 0)
            break; /* EINTR: SIGTERM */
        zmq_msg_t m;
        zmq_msg_init(&m);
        if ((items[0].revents & ZMQ_POLLIN) && zmq_msg_recv(&m, s, ZMQ_DONTWAIT) >= 0)
            (*received)++;
        /* A monitor event is two frames: the event, then the endpoint. */
        if ((items[1].revents & ZMQ_POLLIN) && zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) >= 0) {
            while (zmq_msg_more(&m))
                zmq_msg_recv(&m, mon, 0);
            printf("handshake %ld\n", ++*handshakes);
            fflush(stdout);
        }
        zmq_msg_close(&m);
    }
    rc = 0;
out:
    if (s) {
        zmq_socket_monitor(s, NULL, 0);
        zmq_close(s);
    }
    if (mon)
        zmq_close(mon);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: squat ENDPOINT KEY SERVER_PUB ROUTING_ID SECONDS\n");
        return 1;
    }
    char err[512];
    cdof_curve_t *curve = NULL;
    if (cdof_curve_open(false, false, argv[2], argv[3], &curve, err, sizeof err) < 0) {
        fprintf(stderr, "squat: %s\n", err);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    void *zctx = zmq_ctx_new();
    long handshakes = 0, received = 0;
    int rc = 0;
    int64_t until = cdof_clock_mono_ms() + 1000 * (int64_t)atoi(argv[5]);
    for (int n = 0; rc == 0 && !stop && cdof_clock_mono_ms() < until; n++)
        rc = squat_once(zctx, curve, argv[1], argv[4], n, &handshakes, &received);
    zmq_ctx_term(zctx);
    cdof_curve_destroy(&curve);
    printf("handshakes %ld received %ld\n", handshakes, received);
    return rc == 0 ? 0 : 1;
}
