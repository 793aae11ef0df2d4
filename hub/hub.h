/* The hub's wiring: one context shared by ingest, comparisons, alerts and queries. Internal to
 * cdof-hub. */
#ifndef CDOF_HUB_H
#define CDOF_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "cdof_commitments.h"
#include "cdof_curve.h"
#include "cdof_period.h"
#include "cdof_ref.h"
#include "cdof_store.h"
#include "hub_db.h"
#include "hub_keys.h"

typedef struct {
    char *data, *ingest, *alerts, *query, *keys, *refdir, *log_level, *log_file;
    char *alert_level; /* "95" or "99.8" */
    bool insecure, no_sync;
    char *partnerships;    /* CSV partnership,area_code: areas joined into partnerships */
    bool check;            /* rebuild --check: compare with the stored results, change nothing */
    char *rules;           /* the rules file (--rules FILE); NULL: the two default rules */
    char *key;             /* the hub's secret key file (CURVE) */
    long settle_ms;        /* --settle-ms: quiet time before revisions are judged (0: in ingest) */
    char *periods;         /* --periods FILE: per-metric threshold and deadline (CSV) */
    char *metrics;         /* --metrics HOST:PORT: Prometheus endpoint; NULL: none (the default) */
    long silence_max_days; /* --silence-max-days: the longest a silence may last */
    long period_tolerance_days; /* --period-tolerance-days: clock difference for new periods */
    long query_cpu_ms; /* --query-cpu-ms: hub CPU per key per second on queries (0: none) */
} hub_config_t;

typedef struct {
    uint64_t ingested, duplicates, rejected, commits, alerts, heartbeats, out_of_order;
    /* Batch sizes for `health`: envelopes in committed batches, the last, the most. */
    uint64_t batches, batched, batch_last, batch_max; /* batches: commits with envelopes */
    uint64_t comparisons; /* metric-periods whose stored comparisons were recomputed */
} hub_counters_t;

/* A metric and period touched by a batch, to compare once it is committed. */
typedef struct {
    const cdof_metric_t *metric;
    cdof_period_t period;
    bool refresh; /* its own rows are stored already (hub_results_update_period): what depends
                     on them is recomputed for every area, not only for changed figures */
} hub_touch_t;

typedef struct hub_settle hub_settle_t;
typedef struct hub_alerts hub_alerts_t;
typedef struct hub_batch hub_batch_t;
typedef struct hub_periods hub_periods_t;
typedef struct hub_results hub_results_t;

typedef struct hub {
    hub_config_t cfg;
    cdof_ref_t *ref;
    cdof_store_t *store;
    hub_db_t *db; /* the national store's schema and its databases (hub_db.h) */
    void *zctx, *ingest, *pub, *query; /* ZeroMQ context and sockets: the daemon's files use them */
    double alert_confidence;           /* 0.95 or 0.998 */
    hub_counters_t counters;
    hub_results_t *results;          /* stored comparisons and partnerships (hub_results.h) */
    cdof_commitments_t *commitments; /* the strategy's commitments (may be empty) */
    hub_alerts_t *alerts; /* the alert lifecycle, its rules and silences (hub_alerts.h) */
    hub_settle_t *settle; /* period marks and the tick (hub_settle.h) */
    hub_batch_t *batch;   /* ingest's batch, made at the first (hub_ingest.h) */
    int64_t started_ms;   /* wall clock at start: agents' silence counts from here at most */
    /* Security (hub_auth.c): NULL keys and zap with --insecure. */
    cdof_curve_t *curve;
    hub_keys_t *keys;
    void *zap;
    /* While the alert endpoint is being reopened to cut off a revoked reader: the monitor that
     * reports its old listener closed, and the monotonic time after which it is reopened anyway. */
    bool reopening;
    void *reopen_mon; /* NULL when no monitor could be set up: reopened at reopen_by_ms */
    int64_t reopen_by_ms;
    int store_fault;        /* the last write failure logged (0: writes succeed), see serve() */
    hub_periods_t *periods; /* period states, their history and policies (hub_periods.h) */
    struct hub_subs *subs;  /* the alert endpoint's subscriptions (hub_subs.c) */
    struct hub_queries *queries; /* requests waiting for their turn (hub_query.c) */
} hub_t;

#endif
