/* The hub's wiring: one context shared by ingest, comparisons, alerts and queries. Internal to
 * cdof-hub. */
#ifndef CDOF_HUB_H
#define CDOF_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "cdof.pb-c.h"
#include "cdof_compare.h"
#include "cdof_config.h"
#include "cdof_period.h"
#include "cdof_points.h"
#include "cdof_ref.h"
#include "cdof_store.h"

#define HUB_SCHEMA_VERSION 1
#define HUB_BATCH_MAX      1000 /* envelopes in one group commit */

typedef struct {
    char *data, *ingest, *alerts, *query, *keys, *refdir, *log_level, *log_file;
    char *alert_level; /* "95" or "99.8" */
    bool insecure, no_sync;
} hub_config_t;

typedef struct {
    uint64_t ingested, duplicates, rejected, commits, alerts, heartbeats, out_of_order;
    /* Batch sizes for `health` (issue 9): envelopes in committed batches, the last, the most. */
    uint64_t batched, batch_last, batch_max;
} hub_counters_t;

typedef struct {
    hub_config_t cfg;
    cdof_ref_t *ref;
    cdof_store_t *store;
    cdof_points_t *pts;
    cdof_store_db_t db_meta, db_alerts, db_alert_state, db_milestones, db_periods, db_rejections;
    void *zctx, *ingest, *pub, *query;
    double alert_confidence; /* 0.95 or 0.998 */
    uint64_t next_alert_seq;
    struct hub_alert_change *pending; /* alerts of the open transaction, not yet published */
    size_t npending, cap_pending;
    hub_counters_t counters;
    int64_t started_ms; /* for `health` */
} hub_t;

/* A metric and period touched by a batch, to compare once it is committed. */
typedef struct {
    const cdof_metric_t *metric;
    cdof_period_t period;
} hub_touch_t;

/* Reads what waits on the ingest socket (up to HUB_BATCH_MAX), commits it in one transaction,
 * acknowledges, then runs comparisons and alert rules for what changed. */
int hub_ingest_batch(hub_t *hub);

/* Records period p of metric m in the period index (write txn), so that "latest period" and
 * time series are point reads. */
int hub_periods_note(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p);

/* Visits the periods recorded for metric m, newest first. Visitor as cdof_store_visit_fn
 * semantics: 0 go on, >0 stop, <0 fail. */
typedef int (*hub_period_visit_fn)(void *ctx, const cdof_period_t *p);
int hub_periods_scan(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, bool newest_first,
                     hub_period_visit_fn visit, void *ctx);

/* Alert rules run inside the ingest transaction, so data and the alerts it raises commit
 * together (a crash between the two cannot lose an evaluation):
 *   hub_alerts_begin()                   before the batch's transaction (and each retry);
 *   hub_alerts_evaluate(hub, txn, m, p)  per touched metric and period: compares, stores the
 *                                        alerts that change state under provisional sequences;
 *   hub_alerts_publish(hub)              after the commit returns: publishes them;
 *   hub_alerts_discard(hub)              when the transaction is aborted. */
void hub_alerts_begin(hub_t *hub);
int hub_alerts_evaluate(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                        const cdof_period_t *p);
void hub_alerts_publish(hub_t *hub);
void hub_alerts_discard(hub_t *hub);

/* Loads the next alert sequence from the store at start-up. */
int hub_alerts_init(hub_t *hub);

/* Answers one request waiting on the query socket. */
int hub_query_handle(hub_t *hub);

/* A stored point as input to the comparison module. */
cdof_compare_input_t hub_point_input(const cdof_area_t *area, const cdof_point_t *pt);

/* Loads comparison rows for metric m and period p (read txn): fills *out (caller destroys). */
int hub_compare_load(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p, cdof_compare_t **out);

/* Health (issue 9): an agent heard from within this window counts as connected; agents send a
 * heartbeat every second by default and are thought dead after three silent intervals. */
#define HUB_CONNECTED_MS 3000

/* Fills *out (initialised by the caller) with the counters and the agents heard from recently
 * (read txn). Returns 0 or a negative code from the store. */
int hub_health_fill(hub_t *hub, cdof_store_txn_t *txn, Cdof__V1__Health *out);

#endif
