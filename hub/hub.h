/* The hub's wiring: one context shared by ingest, comparisons, alerts and queries. Internal to
 * cdof-hub. */
#ifndef CDOF_HUB_H
#define CDOF_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdof_commitments.h"
#include "cdof_compare.h"
#include "cdof_curve.h"
#include "cdof_partnerships.h"
#include "cdof_period.h"
#include "cdof_ref.h"
#include "cdof_store.h"
#include "hub_db.h"
#include "hub_keys.h"

#define HUB_SCHEMA_VERSION 1
#define HUB_BATCH_MAX      1000 /* envelopes in one group commit */
#define HUB_LISTEN_BACKLOG 1024 /* connections awaiting accept: every agent at once, with room */

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

typedef struct hub {
    hub_config_t cfg;
    cdof_ref_t *ref;
    cdof_store_t *store;
    hub_db_t *db; /* the national store's schema and its databases (hub_db.h) */
    void *zctx, *ingest, *pub, *query; /* ZeroMQ context and sockets: the daemon's files use them */
    double alert_confidence;           /* 0.95 or 0.998 */
    hub_counters_t counters;
    struct hub_results *results;     /* stored comparisons and partnerships (hub_results.c) */
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

/* Reads what waits on the ingest socket (up to HUB_BATCH_MAX), commits it in one transaction,
 * acknowledges, then runs comparisons and alert rules for what changed. Returns how many
 * envelopes were committed (0 when none waited), or a negative code with nothing acknowledged. */
int hub_ingest_batch(hub_t *hub);

/* A stored point as input to the comparison module. */
cdof_compare_input_t hub_point_input(const cdof_area_t *area, const hub_point_t *pt);

/* Loads comparison rows for metric m and period p (read txn): fills *out (caller destroys). */
int hub_compare_load(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p, cdof_compare_t **out);

/* ---- Stored comparisons (hub_results.c, docs/DESIGN.md "Comparisons") ----
 *
 * Every comparison row (areas, regions, England, configured partnerships) is stored in the
 * "results" database when its data changes, so queries read rows instead of recomputing. The
 * bases: as reported, and rolling 12 months for monthly metrics with intervals (the row's
 * period is the window's last month). Pooled 3-year periods of pooled metrics are built from
 * single calendar years for areas that did not send the pooled figure. */
typedef enum { HUB_BASIS_REPORTED = 0, HUB_BASIS_ROLLING_12M = 1 } hub_basis_t;

/* Opens the results database and loads the partnerships file (path may be NULL: every area is
 * its own partnership); counts' trajectories come from hub->commitments (load them first; NULL:
 * none). On failure writes a reason naming file and line into err. Returns 0 or a negative code. */
int hub_results_open(hub_t *hub, const char *partnerships, char *err, size_t errlen);
void hub_results_close(hub_t *hub);

/* Incremental: recomputes and stores what new data for the n touched metrics and periods
 * affects (write txn), each piece once however many touched periods share it: the touched
 * periods themselves, oldest first; the trend of the next four periods for the rows whose
 * figures changed; the rolling windows holding a touched month; the pooled periods built from
 * a touched year; next year's count baselines. */
int hub_results_update(hub_t *hub, cdof_store_txn_t *txn, const hub_touch_t *touched, size_t n);

/* Recomputes and stores the rows of (m, p) as reported, alone (write txn): what judging a period
 * that has just completed needs. What depends on them (later trends, rolling windows, pooled
 * periods, baselines) waits for a hub_results_update with the touch's refresh set. */
int hub_results_update_period(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                              const cdof_period_t *p);

/* Empties the month cache's slots of the touched months. Ingest calls it for every
 * batch that writes points (committed or not), since their comparisons now run later, in the
 * tick: a cached month must never outlive a change to its points. */
void hub_results_forget(hub_t *hub, const hub_touch_t *touched, size_t n);

/* Full rebuild from the stored points (write txn): clears the results and recomputes every
 * metric and period oldest first. The rows equal those the incremental updates stored. */
int hub_results_rebuild(hub_t *hub, cdof_store_txn_t *txn);

/* Computes (not stores) the comparison for (m, p, basis) from points and stored history.
 * *out owned by the caller (cdof_compare_destroy). */
int hub_results_compute(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                        const cdof_period_t *p, hub_basis_t basis, cdof_compare_t **out);

/* Reads the stored row for one area (or partnership) code: 0, CDOF_ENOTFOUND or an error.
 * Pointers in *out are owned by the hub (reference data, partnerships). */
int hub_results_get(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                    const cdof_period_t *p, hub_basis_t basis, const char *code,
                    cdof_compare_row_t *out);

/* A cursor over the stored rows of (m, p, basis) in code order, skipping rows of areas since
 * removed from the reference data or configuration: open, then next until it returns 0. *out
 * owned by the caller (hub_results_rows_close, before or after txn ends). next returns 1 with
 * *row filled (its pointers owned by the hub), 0 at the end, or a negative code. */
typedef struct hub_results_rows hub_results_rows_t;
int hub_results_rows_open(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                          const cdof_period_t *p, hub_basis_t basis, hub_results_rows_t **out);
int hub_results_rows_next(hub_results_rows_t *c, cdof_compare_row_t *row);
void hub_results_rows_close(hub_results_rows_t **c);

/* Rebuilds inside txn (the caller aborts it afterwards) and compares every row, byte for byte,
 * with what was stored. Returns 0 when equal ("N rows equal" in diff), 1 with the first
 * difference named in diff, or a negative code. */
int hub_results_check(hub_t *hub, cdof_store_txn_t *txn, char *diff, size_t difflen);

/* Rebuild (or, with check, hub_results_check) in a write transaction of its own, started again
 * on a grown map when the map fills. *rows (may be NULL): rows stored after a rebuild. Returns
 * 0, 1 (check: different) or a negative code. */
int hub_results_rebuild_all(hub_t *hub, bool check, char *diff, size_t difflen, uint64_t *rows);

/* The area (reference data) or configured partnership with this code, or NULL. Owned by the
 * hub. */
const cdof_area_t *hub_results_area(const hub_t *hub, const char *code);

/* Whether the stored rows must be rebuilt before use: the store has points but no rows (it
 * predates stored comparisons), or the rows were computed with other partnerships or
 * commitments than the hub now has. *why says which (static text). Returns 0 or an error. */
int hub_results_stale(hub_t *hub, cdof_store_txn_t *txn, bool *stale, const char **why);

/* Number of stored rows (all metrics and periods). */
int hub_results_count(hub_t *hub, cdof_store_txn_t *txn, uint64_t *out);

/* The configured partnerships (--partnerships), in the file's order: how many, and the k-th
 * (NULL past the end). Owned by the hub; none without the file. They are one array:
 * hub_results_partnership_at(hub, 0) points at all of them. */
size_t hub_results_partnership_count(const hub_t *hub);
const cdof_partnership_t *hub_results_partnership_at(const hub_t *hub, size_t k);
/* The partnerships milestones are owed by (compliance and the milestone_overdue rule): every
 * configured partnership, even one that never reported, and every other name that reported a
 * milestone (an area on its own, or an agent's partnership), sorted, each once (read txn).
 * Returns 0 with *names (n strings; caller frees with hub_milestone_owers_free) or a negative
 * code. */
int hub_milestone_owers(hub_t *hub, cdof_store_txn_t *txn, char ***names, size_t *n);
void hub_milestone_owers_free(char **names, size_t n);

#endif
