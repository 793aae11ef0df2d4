/* The query endpoint (PROTOCOL.md "Queries"): one QueryRequest in, one QueryResponse out, served
 * fairly between keys. Part of the daemon: it touches sockets. */
#ifndef CDOF_HUB_QUERY_H
#define CDOF_HUB_QUERY_H

#include <stdint.h>

#include "hub.h"

/* Fair service. Requests wait in one queue per key (per connection with --insecure) and are
 * answered one key at a time in turn, within a time budget per serve-loop turn, so that ingest
 * gets the loop between them and a flooding key delays mostly itself. Each key also has a budget
 * of hub CPU time (--query-cpu-ms a second, measured on the thread that answers): a key that has
 * used it waits, behind every other key, until it is earned back, so no key takes more than its
 * share of a core however many requests it sends. */
#define HUB_QUERY_QUEUE_PER_KEY 16   /* requests of one key waiting; more are refused */
#define HUB_QUERY_KEYS          256  /* senders with requests waiting at once */
#define HUB_QUERY_TAKE_PER_TURN 32   /* requests read per call: refusals wait for ingest's turn */
#define HUB_QUERY_TURN_MS       5    /* answering per serve-loop turn (at least one answer) */
#define HUB_QUERY_CPU_MAX_MS    1000 /* --query-cpu-ms: a whole core */

/* Reads waiting requests into their keys' queues, refusing (answered BAD_REQUEST with the
 * reason) those beyond a key's HUB_QUERY_QUEUE_PER_KEY. Returns how many were read, or a
 * negative errno. */
int hub_query_take(hub_t *hub);

/* Answers waiting requests, a key at a time, for about budget_ms (at least one): read queries
 * are handed to a worker thread, one at a time, which answers them on read transactions of its
 * own (LMDB readers never block the writer), so ingest and acks never wait behind them; acks,
 * silences and health are answered here. Keys over their CPU budget are passed over. Returns 0
 * when more can be answered now, the milliseconds until a key over its budget may go on, or -1
 * when nothing can go on before a request or the worker's answer arrives. */
int hub_query_serve(hub_t *hub, int budget_ms);

/* The worker's socket: readable when it has answered (NULL before the first query). */
void *hub_query_worker_socket(const hub_t *hub);

/* Sends the worker's answers on to their clients and charges their keys; the worker is free
 * again. */
void hub_query_worker_done(hub_t *hub);

/* Since the hub started: requests refused (too many of one key's waiting), requests that waited
 * for their key's CPU budget, and the CPU time spent answering queries. */
typedef struct {
    uint64_t refused, deferred, cpu_ms;
} hub_query_stats_t;
void hub_query_stats(const hub_t *hub, hub_query_stats_t *out);

/* Stops the worker (after the request it is answering) and frees what still waits. Before the
 * store closes. */
void hub_query_close(hub_t *hub);

#endif
