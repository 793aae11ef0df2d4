#include "cdof_metrics.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "cdof_error.h"
#include "cdof_log.h"

/* Scrapers are few (a Prometheus or two, a person with curl): a small cap keeps a misbehaving
 * client from holding many descriptors in a daemon whose real work is elsewhere. */
#define METRICS_MAX_CONNECTIONS 16
#define METRICS_TIMEOUT_S       10

struct cdof_metrics {
    struct MHD_Daemon *daemon;
    cdof_metrics_fill_fn fill;
    void *ctx;
    unsigned port;
    char endpoint[128];
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
                              const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    cdof_metrics_t *m = cls;
    static const char text[] = "text/plain; charset=utf-8";
    /* A request body (none expected) is drained before the answer. */
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        static const char msg[] = "only GET /metrics\n";
        return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, msg, sizeof msg - 1);
    }
    if (strcmp(url, "/metrics") != 0) {
        static const char msg[] = "not found: metrics are at /metrics\n";
        return answer(c, MHD_HTTP_NOT_FOUND, text, msg, sizeof msg - 1);
    }
    cdof_prom_t *p = NULL;
    int rc = cdof_prom_new(&p);
    if (rc == 0)
        rc = m->fill(m->ctx, p);
    if (rc == 0)
        rc = cdof_prom_error(p);
    enum MHD_Result ok;
    if (rc == 0) {
        size_t len;
        const char *body = cdof_prom_text(p, &len);
        ok = answer(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
    } else {
        cdof_log_warn("metrics on %s: %s", m->endpoint, cdof_strerror(rc));
        char msg[256];
        int n = snprintf(msg, sizeof msg, "metrics unavailable: %s\n", cdof_strerror(rc));
        ok = answer(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text, msg, (size_t)n);
    }
    cdof_prom_free(&p);
    return ok;
}

/* Splits "HOST:PORT" or "[HOST]:PORT" into host and port. Returns 0 or CDOF_EINVALID. */
static int split_endpoint(const char *ep, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon;
    size_t hl;
    if (ep[0] == '[') {
        const char *close = strchr(ep, ']');
        if (!close || close[1] != ':')
            return CDOF_EINVALID;
        hl = (size_t)(close - ep - 1);
        memcpy(host, ep + 1, hl < hostlen ? hl : 0);
        colon = close + 1;
    } else {
        colon = strrchr(ep, ':');
        if (!colon || strchr(ep, ':') != colon)
            return CDOF_EINVALID;
        hl = (size_t)(colon - ep);
        memcpy(host, ep, hl < hostlen ? hl : 0);
    }
    if (hl == 0 || hl >= hostlen || !colon[1] || strlen(colon + 1) >= portlen ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return CDOF_EINVALID;
    host[hl] = '\0';
    snprintf(port, portlen, "%s", colon + 1);
    return 0;
}

int cdof_metrics_open(const char *endpoint, cdof_metrics_fill_fn fill, void *ctx,
                      cdof_metrics_t **out, char *err, size_t errlen)
{
    char host[100], port[8];
    *out = NULL;
    if (split_endpoint(endpoint, host, sizeof host, port, sizeof port) < 0) {
        snprintf(err, errlen,
                 "--metrics '%s': expected HOST:PORT or [ADDRESS]:PORT, e.g. 127.0.0.1:9464",
                 endpoint);
        return CDOF_EINVALID;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "--metrics '%s': %s", endpoint, gai_strerror(gai));
        return CDOF_EINVALID;
    }
    cdof_metrics_t *m = calloc(1, sizeof *m);
    if (!m) {
        freeaddrinfo(ai);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    m->fill = fill;
    m->ctx = ctx;
    snprintf(m->endpoint, sizeof m->endpoint, "%s", endpoint);
    unsigned flags = MHD_USE_EPOLL | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    errno = 0;
    m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
                                 ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)METRICS_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)METRICS_TIMEOUT_S, MHD_OPTION_END);
    int saved = errno ? errno : EADDRINUSE;
    freeaddrinfo(ai);
    if (!m->daemon) {
        snprintf(err, errlen, "cannot serve metrics on %s: %s", endpoint, strerror(saved));
        free(m);
        return -saved;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    m->port = info ? info->port : 0;
    *out = m;
    return 0;
}

int cdof_metrics_fd(const cdof_metrics_t *m)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

unsigned cdof_metrics_port(const cdof_metrics_t *m)
{
    return m->port;
}

void cdof_metrics_run(cdof_metrics_t *m)
{
    if (m && m->daemon)
        MHD_run(m->daemon);
}

void cdof_metrics_close(cdof_metrics_t **m)
{
    if (!m || !*m)
        return;
    MHD_stop_daemon((*m)->daemon);
    free(*m);
    *m = NULL;
}
