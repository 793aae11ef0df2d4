/* Metric points in the national store, keyed period|metric|area (docs/DESIGN.md "Store keys"):
 *
 *   key = first_day+2^31 (u32 BE) | period kind (u8) | metric code (u16 BE) | area code (9 bytes)
 *
 * so new data lands at the end of the key space and "all areas for one metric and period" is one
 * contiguous scan. The kind byte is the cdof_period_kind_t, plus 8 x the number of years for
 * pooled periods, so that 2021-2022 and 2021-2023 (same first day) are different points. Metric
 * ids are interned to stable u16 codes (from 1, in order of first write) in the "metric_codes"
 * database (id -> code) with the reverse in "metric_names" (code BE -> id), so reordering the
 * catalogue never moves data. A read transaction asking for a metric never written finds no data.
 *
 * Values ("points" and "history") are encoded, big-endian:
 *   version u8 (1) | flags u8 (1 numerator, 2 denominator, 4 value) | numerator f64 |
 *   denominator f64 | value f64 | received_ms i64 | sequence u64 | period last_day i32 |
 *   agent_len u8 | agent_id | note_len u16 | note
 * The version byte comes first so the encoding can evolve; a value that does not decode gives
 * CDOF_ECORRUPT (CDOF_EVERSION for an unknown version).
 *
 * A put over an existing point keeps the old value in "history" (key + the old value's
 * received_ms as u64 BE, sign bit flipped) so queries can ask for values "as at" a date. Of two
 * superseded revisions received in the same millisecond history keeps the later, which is the one
 * any "as at" answer would give. Each agent's high-water sequence lives in "agents" (key: agent
 * id) and is moved in the same transaction as the data it covers. */
#ifndef CDOF_POINTS_H
#define CDOF_POINTS_H

#include <stdbool.h>
#include <stdint.h>

#include "cdof_period.h"
#include "cdof_store.h"

#define CDOF_POINTS_KEY_LEN    16
#define CDOF_POINTS_AGENT_MAX  64
#define CDOF_POINTS_NOTE_MAX   1024
#define CDOF_POINTS_METRIC_MAX 128 /* longest metric id, bytes */
#define CDOF_POINTS_AREA_LEN   9   /* ONS area codes: E06000001 */

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

/* Opens (creating unless the store is read-only) the databases points needs in store, which must
 * outlive *out. Owned by the caller: cdof_points_destroy. Returns 0, CDOF_ENOTFOUND (read-only
 * store that never held points) or a negative code. Invalid arguments (area code not 9 bytes,
 * period kind or pooled length out of range, metric id empty or too long, agent id or note not
 * NUL-terminated within its array) give -EINVAL throughout. */
int cdof_points_new(cdof_store_t *store, cdof_points_t **out);
void cdof_points_destroy(cdof_points_t **points);

/* Writes (or revises) one point, keeping period->last_day and every field of pt (copied).
 * metric_id is interned on first use (write txn). CDOF_EFULL after 65535 metric ids. */
int cdof_points_put(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                    const char *area_code, const cdof_period_t *period, const cdof_point_t *pt);

/* As cdof_points_put, for a caller that writes many points of few metrics in one transaction:
 * *code is the caller's memo of metric_id's code, 0 until this call fills it. The memo is good
 * only within txn (an aborted transaction takes back a code it handed out): the caller sets it
 * to 0 whenever it begins another, and passes one memo per metric_id. */
int cdof_points_put_memo(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                         uint16_t *code, const char *area_code, const cdof_period_t *period,
                         const cdof_point_t *pt);

/* Reads the latest value. Returns 0 or CDOF_ENOTFOUND. */
int cdof_points_get(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                    const char *area_code, const cdof_period_t *period, cdof_point_t *out);

/* Reads the value as it stood at as_at_ms (the latest revision received at or before it).
 * Returns 0 or CDOF_ENOTFOUND. */
int cdof_points_get_as_at(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                          const char *area_code, const cdof_period_t *period, int64_t as_at_ms,
                          cdof_point_t *out);

/* Visits every area's point for one metric and period, in area-code order. The visitor returns 0
 * to go on, >0 to stop (scan returns 0), <0 to fail (scan returns it). area_code is
 * NUL-terminated; it and pt are valid during the call. A metric never written visits nothing. */
typedef int (*cdof_points_visit_fn)(void *ctx, const char *area_code, const cdof_point_t *pt);
int cdof_points_scan(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                     const cdof_period_t *period, cdof_points_visit_fn visit, void *ctx);

/* Visits every point of every metric and period, in key order (period first day, kind, metric
 * code, area), with the metric id and the full period; same visitor rules as cdof_points_scan. */
typedef int (*cdof_points_visit_all_fn)(void *ctx, const char *metric_id, const char *area_code,
                                        const cdof_period_t *period, const cdof_point_t *pt);
int cdof_points_scan_all(cdof_points_t *pts, cdof_store_txn_t *txn, cdof_points_visit_all_fn visit,
                         void *ctx);

/* The interned code of metric_id, or CDOF_ENOTFOUND when it was never written. */
int cdof_points_metric_code(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                            uint16_t *out);

/* Agent records (key agent_id, 1..63 bytes). get returns CDOF_ENOTFOUND for an agent never seen.
 * scan visits in agent-id order; rec is valid during the call. */
int cdof_points_agent_get(cdof_points_t *pts, cdof_store_txn_t *txn, const char *agent_id,
                          cdof_agent_record_t *out);
int cdof_points_agent_put(cdof_points_t *pts, cdof_store_txn_t *txn,
                          const cdof_agent_record_t *rec);
typedef int (*cdof_points_agent_visit_fn)(void *ctx, const cdof_agent_record_t *rec);
int cdof_points_agent_scan(cdof_points_t *pts, cdof_store_txn_t *txn,
                           cdof_points_agent_visit_fn visit, void *ctx);

#endif
