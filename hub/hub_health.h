/* The hub's health: its counters and the agents heard from recently, for `cdof-query health` and
 * the --metrics endpoint. */
#ifndef CDOF_HUB_HEALTH_H
#define CDOF_HUB_HEALTH_H

#include "cdof.pb-c.h"
#include "cdof_prom.h"
#include "cdof_store.h"
#include "hub.h"

/* Health: an agent heard from within this window counts as connected; agents send a
 * heartbeat every second by default and are thought dead after three silent intervals. */
#define HUB_CONNECTED_MS 3000

/* The health counters in Prometheus text format, for the --metrics endpoint: a
 * cdof_metrics_fill_fn, ctx the hub_t. Runs in the hub's thread (from serve()'s poll). */
int hub_health_metrics(void *ctx, cdof_prom_t *out);

/* Fills *out (initialised by the caller) with the counters and the agents heard from recently
 * (read txn). Returns 0 or a negative code from the store. */
int hub_health_fill(hub_t *hub, cdof_store_txn_t *txn, Cdof__V1__Health *out);

#endif
