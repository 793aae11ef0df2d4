/* Who may talk to the hub: the ZAP handler that admits only registered CURVE keys, each on the
 * sockets its role allows, and the per-message check that the sender's key is still registered
 * (a key revoked by a SIGHUP reload stops being served on connections it already has). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cdof_clock.h"
#include "cdof_curve.h"
#include "cdof_log.h"
#include "cdof_zmq.h"
#include "hub.h"
#include "hub_auth.h"
#include "hub_results.h"

#define ZAP_ENDPOINT     "inproc://zeromq.zap.01" /* fixed by RFC 27 (ZAP) */
#define ZAP_MAX_PARTS    8                        /* CURVE requests have 7 frames */
#define ZAP_PER_TURN     64                       /* requests answered per call: bounded work */
#define MONITOR_ENDPOINT "inproc://cdof-hub-alerts-monitor"
/* The longest the alert endpoint stays closed when its old listener's close is not reported. */
#define HUB_REOPEN_WAIT_MS 10000
/* A refused client retries every few seconds: its refusal is logged once a minute. */
#define REFUSAL_QUIET_MS 60000

/* The registry's partnership areas come from the hub's --partnerships (hub_results_open first;
 * the accessor's entries are one array). */
static int keys_load(hub_t *hub, hub_keys_t **out, char *err, size_t errlen)
{
    return hub_keys_load(hub->cfg.keys, hub->ref, hub_results_partnership_at(hub, 0),
                         hub_results_partnership_count(hub), out, err, errlen);
}

int hub_auth_open(hub_t *hub, char *err, size_t errlen)
{
    if (!cdof_curve_enabled(hub->curve))
        return 0;
    int rc = keys_load(hub, &hub->keys, err, errlen);
    if (rc < 0)
        return rc;
    cdof_log_info("key registry: %zu key(s) loaded from %s", hub_keys_count(hub->keys),
                  hub->cfg.keys);
    /* The handler must be bound before any CURVE socket: libzmq admits every client while no
     * handler listens. */
    int linger = 0;
    if (!(hub->zap = zmq_socket(hub->zctx, ZMQ_REP)) ||
        zmq_setsockopt(hub->zap, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_bind(hub->zap, ZAP_ENDPOINT) < 0) {
        rc = -zmq_errno();
        snprintf(err, errlen, "cannot bind the ZAP handler: %s", zmq_strerror(-rc));
        return rc;
    }
    return 0;
}

void hub_auth_close(hub_t *hub)
{
    if (hub->reopen_mon)
        zmq_close(hub->reopen_mon);
    hub->reopen_mon = NULL;
    hub->reopening = false;
    if (hub->zap)
        zmq_close(hub->zap);
    hub->zap = NULL;
    hub_keys_destroy(&hub->keys);
}

/* True when a key that could read alerts under old cannot under fresh. */
static bool reader_revoked(const hub_keys_t *old, const hub_keys_t *fresh)
{
    for (size_t i = 0; i < hub_keys_count(old); i++) {
        const hub_party_t *p = hub_keys_at(old, i), *q;
        if (hub_role_may_use(p->role, "alerts") &&
            (!(q = hub_keys_find(fresh, p->public_key)) || !hub_role_may_use(q->role, "alerts")))
            return true;
    }
    return false;
}

/* A PUB socket cannot refuse a message to one subscriber, so a revoked reader is cut off by
 * closing the alert endpoint's listener, which ends every subscriber's connection, and opening
 * it again: each subscriber reconnects through the ZAP handler, and the revoked one is refused.
 * The others miss nothing: a watcher asks the query endpoint for what it missed when it sees a
 * gap in alert sequences or has heard nothing for a few seconds.
 *
 * Two things are left to the serve loop, so that no fixed wait can be outrun by a loaded
 * machine. The connections close only once the PUB socket has answered its sessions' pipe
 * terminations, which it does whenever its commands are processed (the serve loop polls the
 * socket's ZMQ_FD). And the listener is reopened only once ZeroMQ's I/O thread reports the old
 * one closed: an ipc:// listener removes its socket file as it closes, which would take a new
 * listener's file if that were bound first. */
static void kick_subscribers(hub_t *hub)
{
    if (hub->reopening)
        return; /* already closed: the reopening admits by whatever registry is then in force */
    char ep[512];
    size_t len = sizeof ep;
    void *mon = NULL;
    int linger = 0; /* it only receives: nothing of it may hold up zmq_ctx_term */
    if (zmq_socket_monitor(hub->pub, MONITOR_ENDPOINT, ZMQ_EVENT_CLOSED | ZMQ_EVENT_CLOSE_FAILED) ==
            0 &&
        (mon = zmq_socket(hub->zctx, ZMQ_PAIR)) &&
        (zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
         zmq_connect(mon, MONITOR_ENDPOINT) < 0)) {
        zmq_close(mon);
        mon = NULL;
    }
    int rc = zmq_getsockopt(hub->pub, ZMQ_LAST_ENDPOINT, ep, &len);
    if (rc == 0)
        rc = zmq_unbind(hub->pub, ep);
    if (rc < 0) {
        cdof_log_error("alerts: cannot close %s to cut off a revoked reader: %s", hub->cfg.alerts,
                       zmq_strerror(zmq_errno()));
        zmq_socket_monitor(hub->pub, NULL, 0);
        if (mon)
            zmq_close(mon);
        return;
    }
    if (!mon) {
        /* Without the monitor nothing reports the close: reopen after the longest wait. */
        zmq_socket_monitor(hub->pub, NULL, 0);
        cdof_log_warn("alerts: cannot watch %s close; it reopens in %d ms", hub->cfg.alerts,
                      HUB_REOPEN_WAIT_MS);
    }
    hub->reopening = true;
    hub->reopen_mon = mon;
    hub->reopen_by_ms = cdof_clock_mono_ms() + HUB_REOPEN_WAIT_MS;
}

void hub_auth_reopen_step(hub_t *hub)
{
    if (!hub->reopening)
        return;
    bool closed = false;
    if (hub->reopen_mon) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        /* Each event is two frames: the event and value, then the endpoint. */
        while (cdof_zmq_msg_recv(&m, hub->reopen_mon, ZMQ_DONTWAIT) == 0) {
            uint16_t ev = 0;
            if (zmq_msg_size(&m) >= sizeof ev)
                memcpy(&ev, zmq_msg_data(&m), sizeof ev);
            if (ev & (ZMQ_EVENT_CLOSED | ZMQ_EVENT_CLOSE_FAILED))
                closed = true;
            while (zmq_msg_more(&m) && cdof_zmq_msg_recv(&m, hub->reopen_mon, ZMQ_DONTWAIT) == 0)
                ;
        }
        zmq_msg_close(&m);
    }
    if (!closed && cdof_clock_mono_ms() < hub->reopen_by_ms)
        return;
    if (!closed)
        cdof_log_warn("alerts: %s not reported closed within %d ms; reopening it", hub->cfg.alerts,
                      HUB_REOPEN_WAIT_MS);
    if (hub->reopen_mon) {
        zmq_socket_monitor(hub->pub, NULL, 0);
        zmq_close(hub->reopen_mon);
    }
    hub->reopen_mon = NULL;
    hub->reopening = false;
    for (int i = 0; i < 50; i++) {
        if (zmq_bind(hub->pub, hub->cfg.alerts) == 0) {
            cdof_log_info("alerts: a reader's key was revoked: subscribers reconnect and are "
                          "admitted again by the new registry");
            return;
        }
        if (zmq_errno() != EADDRINUSE)
            break;
        usleep(10000); /* a TCP port may stay busy a moment longer */
    }
    cdof_log_error("alerts: cannot bind %s again: %s", hub->cfg.alerts, zmq_strerror(zmq_errno()));
}

void hub_auth_reload(hub_t *hub)
{
    if (!cdof_curve_enabled(hub->curve))
        return;
    char err[512];
    hub_keys_t *fresh = NULL;
    int rc = keys_load(hub, &fresh, err, sizeof err);
    if (rc < 0) {
        /* A broken file must not lock everyone out, nor let anyone in: keep the old one. */
        cdof_log_error("key registry not reloaded, the previous one stays in force: %s", err);
        return;
    }
    bool kick = hub->pub && reader_revoked(hub->keys, fresh);
    hub_keys_destroy(&hub->keys);
    hub->keys = fresh;
    cdof_log_info("key registry: %zu key(s) loaded from %s", hub_keys_count(fresh), hub->cfg.keys);
    if (kick)
        kick_subscribers(hub);
}

/* True when a refusal of key should be logged as a warning: the first, or the first for a
 * while. ZeroMQ clients reconnect on their own, so a refused one comes back again and again. */
static bool refusal_loud(const char *key)
{
    static char last[CDOF_CURVE_Z85_LEN + 1];
    static int64_t last_ms;
    int64_t now = cdof_clock_now_ms();
    if (strcmp(last, key) == 0 && now - last_ms < REFUSAL_QUIET_MS)
        return false;
    snprintf(last, sizeof last, "%s", key);
    last_ms = now;
    return true;
}

/* A frame as a string, for comparison and logging (truncated to fit out). */
static void frame_text(zmq_msg_t *m, char *out, size_t outlen)
{
    size_t n = zmq_msg_size(m);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, zmq_msg_data(m), n);
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7F)
            out[i] = '?';
}

static void zap_reply(void *zap, zmq_msg_t *request_id, const char *code, const char *text,
                      const char *user_id)
{
    /* Every frame goes, whatever signal arrives: a reply short of one fails the handshake. */
    cdof_zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
    cdof_zmq_send(zap, request_id ? zmq_msg_data(request_id) : "",
                  request_id ? zmq_msg_size(request_id) : 0, ZMQ_SNDMORE);
    cdof_zmq_send(zap, code, strlen(code), ZMQ_SNDMORE);
    cdof_zmq_send(zap, text, strlen(text), ZMQ_SNDMORE);
    cdof_zmq_send(zap, user_id, strlen(user_id), ZMQ_SNDMORE);
    cdof_zmq_send(zap, "", 0, 0); /* no metadata */
}

/* Decides one ZAP request (RFC 27: version, request id, domain, address, identity, mechanism,
 * credentials). The User-Id given back is the client's Z85 public key: every message then names
 * the key it came with, and the registry in force at that moment says who that is. */
static void zap_decide(hub_t *hub, zmq_msg_t *parts, size_t n)
{
    char version[8], domain[32], address[64], mechanism[16];
    if (n < 6) {
        cdof_log_warn("ZAP: malformed request of %zu frame(s) refused", n);
        zap_reply(hub->zap, n > 1 ? &parts[1] : NULL, "500", "malformed request", "");
        return;
    }
    frame_text(&parts[0], version, sizeof version);
    frame_text(&parts[2], domain, sizeof domain);
    frame_text(&parts[3], address, sizeof address);
    frame_text(&parts[5], mechanism, sizeof mechanism);
    if (strcmp(version, "1.0") != 0) {
        zap_reply(hub->zap, &parts[1], "500", "ZAP version not 1.0", "");
        return;
    }
    if (strcmp(mechanism, "CURVE") != 0 || n != 7 || zmq_msg_size(&parts[6]) != 32) {
        cdof_log_warn("refused a %s connection from %s on %s: only CURVE is accepted", mechanism,
                      address, domain);
        zap_reply(hub->zap, &parts[1], "400", "CURVE required", "");
        return;
    }
    char key[CDOF_CURVE_Z85_LEN + 1];
    zmq_z85_encode(key, zmq_msg_data(&parts[6]), 32);
    const hub_party_t *p = hub_keys_find(hub->keys, key);
    if (!p) {
        cdof_log(refusal_loud(key) ? CDOF_LOG_WARN : CDOF_LOG_DEBUG,
                 "refused an unknown key %s from %s on %s", key, address, domain);
        zap_reply(hub->zap, &parts[1], "400", "unknown key", "");
    } else if (!hub_role_may_use(p->role, domain)) {
        cdof_log(refusal_loud(key) ? CDOF_LOG_WARN : CDOF_LOG_DEBUG,
                 "refused %s (%s) from %s on %s: its role may not use this endpoint", p->id,
                 hub_role_name(p->role), address, domain);
        zap_reply(hub->zap, &parts[1], "400", "role not allowed here", "");
    } else {
        cdof_log_info("admitted %s (%s) from %s on %s", p->id, hub_role_name(p->role), address,
                      domain);
        zap_reply(hub->zap, &parts[1], "200", "OK", key);
    }
}

void hub_auth_handle(hub_t *hub)
{
    if (!hub->zap)
        return;
    for (int turn = 0; turn < ZAP_PER_TURN; turn++) {
        zmq_msg_t parts[ZAP_MAX_PARTS];
        size_t n = 0;
        bool more = true, overflow = false;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (cdof_zmq_msg_recv(&m, hub->zap, n ? 0 : ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            if (n < ZAP_MAX_PARTS) {
                zmq_msg_init(&parts[n]);
                zmq_msg_move(&parts[n++], &m);
            } else {
                overflow = true; /* drained, and answered as malformed */
            }
            zmq_msg_close(&m);
        }
        if (n == 0)
            return;
        zap_decide(hub, parts, overflow ? 1 : n);
        for (size_t i = 0; i < n; i++)
            zmq_msg_close(&parts[i]);
    }
}

int hub_auth_sender(hub_t *hub, zmq_msg_t *msg, const char *domain, const hub_party_t **party,
                    char *err, size_t errlen)
{
    *party = NULL;
    if (!cdof_curve_enabled(hub->curve))
        return 0; /* --insecure: nobody is authenticated; the warning said so at start */
    const char *key = zmq_msg_gets(msg, "User-Id");
    const hub_party_t *p = key ? hub_keys_find(hub->keys, key) : NULL;
    if (!p) {
        snprintf(err, errlen, "key %s is no longer registered", key ? key : "(none)");
        return -EACCES;
    }
    if (!hub_role_may_use(p->role, domain)) {
        snprintf(err, errlen, "%s (%s) may not use the %s endpoint", p->id, hub_role_name(p->role),
                 domain);
        return -EACCES;
    }
    *party = p;
    return 0;
}
