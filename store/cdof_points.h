/* Metric points in the national store, keyed period|metric|area (DESIGN.md "Store keys"):
 *
 *   key = first_day+2^31 (u32 BE) | period kind (u8) | metric code (u16 BE) | area code (9 bytes)
 *
 * so new data lands at the end of the key space and "all areas for one metric and period" is one
 * contiguous scan. Metric ids are interned to stable u16 codes in the "metric_codes" database the
 * first time they are written, so reordering the catalogue never moves data.
 *
 * A put over an existing point keeps the old value in "history" (key + received_ms) so queries
 * can ask for values "as at" a date. Each agent's high-water sequence lives in "agents" and is
 * moved in the same transaction as the data it covers. */
#ifndef CDOF_POINTS_H
#define CDOF_POINTS_H

#include <stdbool.h>
#include <stdint.h>

#include "cdof_period.h"
#include "cdof_store.h"

#define CDOF_POINTS_KEY_LEN   16
#define CDOF_POINTS_AGENT_MAX 64
#define CDOF_POINTS_NOTE_MAX  1024

typedef struct cdof_points cdof_points_t;

typedef struct {
    bool has_numerator, has_denominator, has_value;
    double numerator, denominator, value;
    int64_t received_ms;                  /* when the hub committed it */
    uint64_t sequence;                    /* the sender's sequence */
    char agent_id[CDOF_POINTS_AGENT_MAX]; /* the sender */
    char note[CDOF_POINTS_NOTE_MAX];
} cdof_point_t;

typedef struct {
    char agent_id[CDOF_POINTS_AGENT_MAX];
    uint64_t high_water;   /* highest sequence committed */
    int64_t last_heard_ms; /* last envelope or heartbeat */
    uint64_t outbox_depth; /* as the agent last reported */
    uint64_t oldest_unacked_ms;
} cdof_agent_record_t;

/* Opens the databases points needs in store. Owned by the caller: cdof_points_destroy. */
int cdof_points_new(cdof_store_t *store, cdof_points_t **out);
void cdof_points_destroy(cdof_points_t **points);

/* Writes (or revises) one point. metric_id is interned on first use (write txn). */
int cdof_points_put(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                    const char *area_code, const cdof_period_t *period, const cdof_point_t *pt);

/* Reads the latest value. Returns 0 or CDOF_ENOTFOUND. */
int cdof_points_get(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                    const char *area_code, const cdof_period_t *period, cdof_point_t *out);

/* Reads the value as it stood at as_at_ms (the latest revision received at or before it).
 * Returns 0 or CDOF_ENOTFOUND. */
int cdof_points_get_as_at(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                          const char *area_code, const cdof_period_t *period, int64_t as_at_ms,
                          cdof_point_t *out);

/* Visits every area's point for one metric and period, in area-code order. The visitor returns 0
 * to go on, >0 to stop, <0 to fail. area_code is NUL-terminated and valid during the call. */
typedef int (*cdof_points_visit_fn)(void *ctx, const char *area_code, const cdof_point_t *pt);
int cdof_points_scan(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                     const cdof_period_t *period, cdof_points_visit_fn visit, void *ctx);

/* Visits every point of every metric and period, in key order, with the metric and period. */
typedef int (*cdof_points_visit_all_fn)(void *ctx, const char *metric_id, const char *area_code,
                                        const cdof_period_t *period, const cdof_point_t *pt);
int cdof_points_scan_all(cdof_points_t *pts, cdof_store_txn_t *txn, cdof_points_visit_all_fn visit,
                         void *ctx);

/* Agent records. get returns CDOF_ENOTFOUND for an agent never seen. */
int cdof_points_agent_get(cdof_points_t *pts, cdof_store_txn_t *txn, const char *agent_id,
                          cdof_agent_record_t *out);
int cdof_points_agent_put(cdof_points_t *pts, cdof_store_txn_t *txn,
                          const cdof_agent_record_t *rec);
typedef int (*cdof_points_agent_visit_fn)(void *ctx, const cdof_agent_record_t *rec);
int cdof_points_agent_scan(cdof_points_t *pts, cdof_store_txn_t *txn,
                           cdof_points_agent_visit_fn visit, void *ctx);

#endif
