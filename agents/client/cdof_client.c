#include "cdof_client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "cdof_clock.h"
#include "cdof_error.h"
#include "cdof_log.h"
#include "cdof_zmq.h"
#include "cdof_wire.h"

/* The longest a wait sleeps without looking at the stop flag. */
#define STOP_CHECK_MS 100

struct cdof_client {
    cdof_client_opts_t opts;
    void *ctx; /* owned only when own_ctx */
    bool own_ctx;
    void *sock; /* DEALER */
    cdof_link_t *link;
    uint64_t next_id;
};

static bool stopped(const cdof_client_t *c)
{
    return c->opts.stop && *c->opts.stop;
}

int cdof_client_open(const cdof_client_opts_t *opts, cdof_client_t **out, char *err, size_t errlen)
{
    *out = NULL;
    cdof_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return cdof_reason(-ENOMEM, err, errlen, "out of memory");
    c->opts = *opts;
    c->ctx = opts->zctx;
    int rc = 0, linger = 0;
    int64_t maxmsg = CDOF_WIRE_MAX_RESPONSE; /* a page of up to 10,000 rows, far beyond 64 KiB */
    if (!c->ctx) {
        c->own_ctx = true;
        c->ctx = zmq_ctx_new();
    }
    if (!c->ctx) {
        rc = cdof_reason(-zmq_errno(), err, errlen, "cannot create a socket: %s",
                         zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (!(c->sock = zmq_socket(c->ctx, ZMQ_DEALER)) ||
        zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0 ||
        cdof_curve_apply(opts->curve, c->sock, NULL) < 0) {
        rc = cdof_reason(-zmq_errno(), err, errlen, "cannot create a socket: %s",
                         zmq_strerror(zmq_errno()));
        goto fail;
    }
    if ((rc = cdof_link_open(c->ctx, c->sock, &c->link)) < 0) {
        cdof_reason(0, err, errlen, "cannot watch the socket: %s", zmq_strerror(-rc));
        goto fail;
    }
    if (zmq_connect(c->sock, opts->endpoint) < 0) {
        rc = cdof_reason(CDOF_EINVALID, err, errlen, "cannot use '%s': %s", opts->endpoint,
                         zmq_strerror(zmq_errno()));
        goto fail;
    }
    /* Request ids only need to differ from earlier asks on this socket; make them unlikely to
     * repeat across runs too, which helps reading a hub's logs. */
    c->next_id = ((uint64_t)time(NULL) << 20) ^ ((uint64_t)getpid() << 4);
    *out = c;
    return 0;
fail:
    cdof_client_close(&c);
    return rc < 0 ? rc : -EIO;
}

void cdof_client_close(cdof_client_t **cp)
{
    if (!cp || !*cp)
        return;
    cdof_client_t *c = *cp;
    cdof_link_close(&c->link);
    if (c->sock)
        zmq_close(c->sock);
    if (c->own_ctx && c->ctx)
        zmq_ctx_term(c->ctx);
    free(c);
    *cp = NULL;
}

cdof_link_state_t cdof_client_link(cdof_client_t *c)
{
    return cdof_link_poll(c->link);
}

static bool verdict(cdof_link_state_t s)
{
    return s == CDOF_LINK_UP || s == CDOF_LINK_REFUSED || s == CDOF_LINK_WRONG_HUB_KEY;
}

cdof_link_state_t cdof_client_wait_link(cdof_client_t *c, int timeout_ms)
{
    int64_t deadline = cdof_clock_mono_ms() + timeout_ms;
    cdof_link_state_t ls = cdof_link_poll(c->link);
    while (!verdict(ls) && !stopped(c)) {
        int64_t left = deadline - cdof_clock_mono_ms();
        if (left <= 0)
            break;
        zmq_pollitem_t it = {cdof_link_socket(c->link), 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, left > STOP_CHECK_MS ? STOP_CHECK_MS : (long)left);
        ls = cdof_link_poll(c->link);
    }
    return ls;
}

/* The questions that change the hub's records: never sent twice. */
static bool is_write(const Cdof__V1__QueryRequest *req)
{
    switch (req->query_case) {
    case CDOF__V1__QUERY_REQUEST__QUERY_ACK:
    case CDOF__V1__QUERY_REQUEST__QUERY_SILENCE:
    case CDOF__V1__QUERY_REQUEST__QUERY_UNSILENCE:
    case CDOF__V1__QUERY_REQUEST__QUERY_CLOSE:
        return true;
    default:
        return false;
    }
}

/* The handshake count after which the question in flight is taken as lost: one more than now
 * when the link is not up yet (the first handshake carries what waits in the queue). */
static unsigned ups_sent(cdof_client_t *c)
{
    cdof_link_state_t s = cdof_link_poll(c->link);
    return cdof_link_ups(c->link) + (s != CDOF_LINK_UP);
}

/* Queues buf on the socket, waiting for room until deadline. Returns 0, -ETIMEDOUT, -EINTR or a
 * ZeroMQ errno (err says why). */
static int send_request(cdof_client_t *c, const uint8_t *buf, size_t len, int64_t deadline,
                        char *err, size_t errlen)
{
    /* A DEALER queues for a connecting peer, so this waits only when its queue is full. */
    zmq_pollitem_t item = {.socket = c->sock, .events = ZMQ_POLLOUT};
    for (;;) {
        if (zmq_send(c->sock, buf, len, ZMQ_DONTWAIT) >= 0)
            return 0;
        int rc = -zmq_errno();
        if (rc != -EAGAIN && rc != -EINTR)
            return cdof_reason(rc, err, errlen, "cannot send the request: %s", zmq_strerror(-rc));
        if (stopped(c))
            return cdof_reason(-EINTR, err, errlen, "interrupted");
        int64_t left = deadline - cdof_clock_mono_ms();
        if (left <= 0)
            return cdof_reason(-ETIMEDOUT, err, errlen, "no answer within %d ms",
                               c->opts.timeout_ms);
        (void)zmq_poll(&item, 1, left > STOP_CHECK_MS ? STOP_CHECK_MS : (long)left);
    }
}

/* Reads one message waiting on the socket. Returns 1 with *out the answer to id, 0 when there
 * was nothing or it answered an earlier question, or a negative code (err says why). */
static int recv_answer(cdof_client_t *c, uint64_t id, Cdof__V1__QueryResponse **out, char *err,
                       size_t errlen)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, c->sock, ZMQ_DONTWAIT) < 0) {
        int rc = -zmq_errno();
        zmq_msg_close(&msg);
        if (rc == -EAGAIN || rc == -EINTR)
            return 0;
        return cdof_reason(rc, err, errlen, "cannot receive the answer: %s", zmq_strerror(-rc));
    }
    bool more = zmq_msg_more(&msg);
    char why[256] = "";
    Cdof__V1__QueryResponse *resp =
        more ? NULL
             : cdof_wire_query_response_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), why,
                                               sizeof why);
    zmq_msg_close(&msg);
    if (more) {
        /* The contract is one frame: drain and reject the rest of the message. */
        int m = 1;
        size_t ml = sizeof m;
        while (zmq_getsockopt(c->sock, ZMQ_RCVMORE, &m, &ml) == 0 && m) {
            zmq_msg_init(&msg);
            int r = cdof_zmq_msg_recv(&msg, c->sock, ZMQ_DONTWAIT);
            zmq_msg_close(&msg);
            if (r < 0)
                break;
        }
        return cdof_reason(CDOF_EPROTO, err, errlen, "the hub's answer has more than one frame");
    }
    if (!resp)
        return cdof_reason(CDOF_EPROTO, err, errlen, "the hub's answer does not decode: %s", why);
    if (resp->request_id != id) {
        cdof__v1__query_response__free_unpacked(resp, NULL); /* late answer to an old ask */
        return 0;
    }
    *out = resp;
    return 1;
}

int cdof_client_ask(cdof_client_t *c, Cdof__V1__QueryRequest *req, Cdof__V1__QueryResponse **out,
                    char *err, size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    *out = NULL;
    req->request_id = c->next_id++;
    int rc = cdof_wire_pack(&req->base, &buf, &len);
    if (rc < 0)
        return cdof_reason(rc, err, errlen, "cannot encode the request: %s", cdof_strerror(rc));
    int64_t deadline = cdof_clock_mono_ms() + c->opts.timeout_ms;
    unsigned resends = is_write(req) ? 0 : c->opts.resends;
    unsigned lost_at = ups_sent(c) + 1;
    if ((rc = send_request(c, buf, len, deadline, err, errlen)) < 0)
        goto done;
    zmq_pollitem_t items[2] = {{.socket = c->sock, .events = ZMQ_POLLIN},
                               {.socket = cdof_link_socket(c->link), .events = ZMQ_POLLIN}};
    for (;;) {
        if (stopped(c)) {
            rc = cdof_reason(-EINTR, err, errlen, "interrupted");
            goto done;
        }
        int64_t left = deadline - cdof_clock_mono_ms();
        if (left < 0)
            left = 0;
        int n = zmq_poll(items, 2, left > STOP_CHECK_MS ? STOP_CHECK_MS : (long)left);
        if (n < 0 && zmq_errno() != EINTR) {
            rc = cdof_reason(-zmq_errno(), err, errlen, "cannot wait for the answer: %s",
                             zmq_strerror(zmq_errno()));
            goto done;
        }
        /* A stale answer falls through to the deadline, so that a hub sending nothing but old
         * answers cannot hold the caller past its time-out. */
        if (n > 0 && (items[0].revents & ZMQ_POLLIN) &&
            (rc = recv_answer(c, req->request_id, out, err, errlen)) != 0) {
            rc = rc > 0 ? 0 : rc;
            goto done;
        }
        if (n > 0 && (items[1].revents & ZMQ_POLLIN)) {
            (void)cdof_link_poll(c->link);
            if (resends && cdof_link_ups(c->link) >= lost_at) {
                resends--;
                cdof_log_info("the link to %s was made anew: asking request %llu again",
                              c->opts.endpoint, (unsigned long long)req->request_id);
                lost_at = ups_sent(c) + 1;
                if ((rc = send_request(c, buf, len, deadline, err, errlen)) < 0)
                    goto done;
            }
        }
        if (deadline - cdof_clock_mono_ms() <= 0) {
            rc = cdof_reason(-ETIMEDOUT, err, errlen, "no answer within %d ms", c->opts.timeout_ms);
            goto done;
        }
    }
done:
    free(buf);
    return rc;
}

static int pages_add(cdof_client_pages_t *p, Cdof__V1__QueryResponse *resp)
{
    Cdof__V1__QueryResponse **pages = realloc(p->pages, (p->npages + 1) * sizeof *pages);
    if (!pages)
        return -ENOMEM;
    pages[p->npages++] = resp;
    p->pages = pages;
    return 0;
}

int cdof_client_fetch(cdof_client_t *c, Cdof__V1__QueryRequest *req, size_t max_pages,
                      cdof_client_pages_t *out, char *err, size_t errlen)
{
    char *saved_token = req->page_token;
    char *token = NULL;
    int rc = 0;
    for (size_t page = 0;; page++) {
        if (page == max_pages) {
            rc = cdof_reason(CDOF_EPROTO, err, errlen, "the hub sent more than %zu pages",
                             max_pages);
            break;
        }
        req->page_token = token ? token : (char *)"";
        Cdof__V1__QueryResponse *resp = NULL;
        if ((rc = cdof_client_ask(c, req, &resp, err, errlen)) < 0)
            break;
        if ((rc = pages_add(out, resp)) < 0) {
            cdof__v1__query_response__free_unpacked(resp, NULL);
            cdof_reason(0, err, errlen, "out of memory");
            break;
        }
        const char *next = resp->next_page_token;
        if (resp->status != CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK || !next || !*next)
            break;
        if (token && !strcmp(token, next)) {
            rc = cdof_reason(CDOF_EPROTO, err, errlen, "the hub sent the same page token twice");
            break;
        }
        free(token);
        if (!(token = strdup(next))) {
            rc = cdof_reason(-ENOMEM, err, errlen, "out of memory");
            break;
        }
    }
    free(token);
    req->page_token = saved_token;
    return rc;
}

void cdof_client_pages_free(cdof_client_pages_t *p)
{
    for (size_t i = 0; i < p->npages; i++)
        cdof__v1__query_response__free_unpacked(p->pages[i], NULL);
    free(p->pages);
    p->pages = NULL;
    p->npages = 0;
}

const char *cdof_client_status_name(Cdof__V1__QueryStatus s)
{
    switch (s) {
    case CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK:
        return "ok";
    case CDOF__V1__QUERY_STATUS__QUERY_STATUS_NOT_FOUND:
        return "not_found";
    case CDOF__V1__QUERY_STATUS__QUERY_STATUS_BAD_REQUEST:
        return "bad_request";
    case CDOF__V1__QUERY_STATUS__QUERY_STATUS_FORBIDDEN:
        return "forbidden";
    case CDOF__V1__QUERY_STATUS__QUERY_STATUS_INTERNAL:
        return "internal";
    default:
        return "unspecified";
    }
}
