/* The client side of the hub's query endpoint, for every program that asks the hub something
 * (cdof-query, the annual report, cdof-watch's catch-up, a later web console).
 *
 * A client is one DEALER connected to the query endpoint, with CURVE from cdof_curve and its
 * handshake watched by cdof_link, so that a refused key or a wrong hub key is told apart from a
 * hub that is not there. A question is one QueryRequest; its answer is the QueryResponse with
 * the same request_id (answers to earlier questions that timed out are dropped). A long answer
 * comes in pages, followed here by token.
 *
 * Resending: a read is sent again, at most `resends` times within its time-out, when the link
 * to the hub was made anew while the question was out (the hub restarted or the connection
 * dropped, and the question may have gone with it); ZeroMQ loses nothing on a live connection,
 * so nothing is resent on a timer. A write (ack, silence, unsilence, close) is never resent: the
 * hub stores it before answering, and a second copy would be a second record.
 *
 * Not thread-safe: one thread uses a client. */
#ifndef CDOF_CLIENT_H
#define CDOF_CLIENT_H

#include <signal.h>
#include <stddef.h>

#include "cdof.pb-c.h"
#include "cdof_curve.h"
#include "cdof_link.h"

typedef struct cdof_client cdof_client_t;

typedef struct {
    const char *endpoint;        /* the query endpoint, e.g. "tcp://hub:7402" */
    const cdof_curve_t *curve;   /* keys (cdof_curve_open as a client); NULL: plain TCP */
    void *zctx;                  /* a ZeroMQ context to share; NULL: the client makes its own */
    int timeout_ms;              /* what one question may take, resends included (> 0) */
    unsigned resends;            /* the most times a read is sent again (see above) */
    volatile sig_atomic_t *stop; /* set by a signal handler ends a wait with -EINTR; may be NULL */
} cdof_client_opts_t;

/* Opens the socket and starts connecting; does not wait for the hub. The options are copied
 * (endpoint, curve and zctx are borrowed and must outlive the client). *out: caller closes it.
 * Returns 0; CDOF_EINVALID when ZeroMQ cannot use the endpoint; another negative errno when the
 * socket or its monitor cannot be made. err says why (for a bad endpoint: "cannot use 'EP': ...",
 * for the caller to put its flag's name in front). */
int cdof_client_open(const cdof_client_opts_t *opts, cdof_client_t **out, char *err, size_t errlen);
/* Closes the socket (unsent questions are dropped), and the context when the client made it.
 * Accepts NULL and sets *c to NULL. */
void cdof_client_close(cdof_client_t **c);

/* The link's state now (reads the monitor, never blocks). */
cdof_link_state_t cdof_client_link(cdof_client_t *c);
/* Waits up to timeout_ms for the handshake's verdict: CDOF_LINK_UP, CDOF_LINK_REFUSED or
 * CDOF_LINK_WRONG_HUB_KEY, else the state when the time ran out (or a stop came). */
cdof_link_state_t cdof_client_wait_link(cdof_client_t *c, int timeout_ms);

/* Asks req (its request_id is set here) and waits for its answer. *out is owned by the caller
 * (cdof__v1__query_response__free_unpacked). Returns 0 (whatever the answer's status),
 * -ETIMEDOUT, -EINTR (a stop), CDOF_EPROTO when the answer breaks the contract, or a negative
 * errno from ZeroMQ; err says why. */
int cdof_client_ask(cdof_client_t *c, Cdof__V1__QueryRequest *req, Cdof__V1__QueryResponse **out,
                    char *err, size_t errlen);

/* Every page of one question, in order. Owned by the caller: cdof_client_pages_free(). */
typedef struct {
    Cdof__V1__QueryResponse **pages;
    size_t npages;
} cdof_client_pages_t;

/* Asks req and follows next_page_token to the last page, at most max_pages, appending to *out
 * (which may already hold pages). Stops at the first answer whose status is not OK: that answer
 * is the last page in out, for the caller to report. req's page_token is restored on return.
 * Returns 0, CDOF_EPROTO (more than max_pages, or the same token twice) or a failure of
 * cdof_client_ask; out keeps the pages received. */
int cdof_client_fetch(cdof_client_t *c, Cdof__V1__QueryRequest *req, size_t max_pages,
                      cdof_client_pages_t *out, char *err, size_t errlen);
void cdof_client_pages_free(cdof_client_pages_t *p);

/* Lower-case name of a status: ok, not_found, bad_request, forbidden, internal, unspecified. */
const char *cdof_client_status_name(Cdof__V1__QueryStatus s);

#endif
