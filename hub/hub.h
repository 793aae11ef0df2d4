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
#include "cdof_wire.h"

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
    uint64_t batches, batched, batch_last, batch_max; /* batches: commits with envelopes */
    uint64_t comparisons;                             /* metric-periods compared for alerts */
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
    /* Deferred comparisons (hub_pending.c). */
    cdof_store_db_t db_pending;
    int64_t pending_since; /* monotonic ms when pending comparisons became due; 0: none */
    bool pending_left;     /* the open transaction's evaluation left marks behind */
    uint8_t pending_cursor[CDOF_WIRE_MAX_ID + 16]; /* round robin: the last mark compared */
    size_t pending_cursor_len;
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

/* Key of metric m and period p in the periods index and the pending comparisons: metric id, NUL,
 * first day, kind, last day (at most CDOF_WIRE_MAX_ID + 10 bytes). Returns its length. */
size_t hub_period_key(const cdof_metric_t *m, const cdof_period_t *p, uint8_t *key);
/* The period at the end of such a key (len >= 9). */
cdof_period_t hub_period_from_key(const void *key, size_t len);

/* Deferred comparisons (issue 9). Comparing a metric-period costs the same whether one area or a
 * hundred changed, and more with every rule and window the comparisons learn, so ingest must not
 * wait on it. A light load (batches under HUB_DEFER_MIN_BATCH envelopes) compares what it touched
 * at once, in its own transaction, as before. Under load a batch instead records what it touched
 * in the "pending_compare" database, in its own transaction, so nothing is lost to a crash; every
 * HUB_DEFER_MS a batch (or hub_ingest_flush, when ingest is quiet) compares pending ones, each
 * once however many batches touched it, for at most HUB_COMPARE_BUDGET_MS, round robin, and
 * clears their marks in its transaction. A quiet hub catches up at once; a restarted hub compares
 * what was pending first. */
#ifndef HUB_DEFER_MIN_BATCH /* a benchmark may build with a huge value: never defer */
#define HUB_DEFER_MIN_BATCH 64
#endif
#define HUB_DEFER_MS          200
#define HUB_COMPARE_BUDGET_MS 20

/* Opens the database at start-up; marks found there are due at once. Returns 0 or a code. */
int hub_pending_open(hub_t *hub);
/* Whether a batch of n envelopes compares (else it defers what it touched). */
bool hub_pending_due(const hub_t *hub, size_t n);
/* In the batch's write txn: records t[0..n) as pending. */
int hub_pending_add(hub_t *hub, cdof_store_txn_t *txn, const hub_touch_t *t, size_t n);
/* In the batch's write txn: compares (hub_alerts_evaluate) t[0..n), then pending metric-periods
 * for up to HUB_COMPARE_BUDGET_MS, and clears their marks. */
int hub_pending_evaluate(hub_t *hub, cdof_store_txn_t *txn, const hub_touch_t *t, size_t n);
/* After the commit of a transaction that called one of the two: evaluated says which, n how many
 * metric-periods the batch touched, quiet that it carried no envelopes. */
void hub_pending_committed(hub_t *hub, bool evaluated, size_t n, bool quiet);
/* Milliseconds until deferred comparisons are due (0: now), or -1 when none are pending. */
long hub_pending_wait_ms(const hub_t *hub);
/* Marks pending in the store (read txn), for `health`. */
int hub_pending_count(hub_t *hub, cdof_store_txn_t *txn, uint64_t *out);

/* Compares what is pending in a transaction of its own and publishes the alerts; for the serve
 * loop when no envelope has come for hub_pending_wait_ms. */
int hub_ingest_flush(hub_t *hub);

/* Health (issue 9): an agent heard from within this window counts as connected; agents send a
 * heartbeat every second by default and are thought dead after three silent intervals. */
#define HUB_CONNECTED_MS 3000

/* Fills *out (initialised by the caller) with the counters and the agents heard from recently
 * (read txn). Returns 0 or a negative code from the store. */
int hub_health_fill(hub_t *hub, cdof_store_txn_t *txn, Cdof__V1__Health *out);

#endif
