/* A local HTTP endpoint serving metrics in Prometheus text format (GET /metrics), for existing
 * monitoring (Prometheus, or Nagios through a Prometheus check) to scrape. libmicrohttpd does
 * the HTTP. It runs in the caller's event loop, not in a thread of its own: the caller polls
 * cdof_metrics_fd() for reading and calls cdof_metrics_run() when it is ready (and at least
 * every second, so idle connections time out), and the fill callback runs then, in the
 * caller's thread, so it reads the daemon's counters without locks. */
#ifndef CDOF_METRICS_H
#define CDOF_METRICS_H

#include <stddef.h>

#include "cdof_prom.h"

typedef struct cdof_metrics cdof_metrics_t;

/* Appends the caller's metric families to out. Returns 0 or a negative code (the scrape then
 * gets 500 and the reason is logged). */
typedef int (*cdof_metrics_fill_fn)(void *ctx, cdof_prom_t *out);

/* Listens on endpoint "HOST:PORT" or "[V6ADDR]:PORT" (numeric addresses or localhost; port 0
 * picks a free one, see cdof_metrics_port). *out is owned by the caller: close it with
 * cdof_metrics_close(). Returns 0, CDOF_EINVALID for a malformed endpoint, or -errno when it
 * cannot listen; err names the endpoint and the reason. */
int cdof_metrics_open(const char *endpoint, cdof_metrics_fill_fn fill, void *ctx,
                      cdof_metrics_t **out, char *err, size_t errlen);

/* The descriptor to poll for reading (an epoll descriptor owned by m). */
int cdof_metrics_fd(const cdof_metrics_t *m);

/* The port it listens on. */
unsigned cdof_metrics_port(const cdof_metrics_t *m);

/* Accepts, reads and answers whatever is ready; never blocks. */
void cdof_metrics_run(cdof_metrics_t *m);

void cdof_metrics_close(cdof_metrics_t **m);

#endif
