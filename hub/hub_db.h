/* The national store's schema: every key layout the hub writes into its LMDB environment, in one
 * place (docs/DESIGN.md "Store keys" lists them all). The generic store (cdof_store) knows only
 * bytes; this module knows what they mean.
 *
 * Metric points (hub_db_t), keyed period|metric|area:
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
 * id) and is moved in the same transaction as the data it covers.
 *
 * This module opens and owns those databases and, with them, the period index ("periods"),
 * milestone events ("milestones") and rejected envelopes ("rejections"), whose records the hub's
 * modules read and write through the handles below and the codecs at the end. The codecs also
 * serve databases other modules own: period states and settle marks (hub_periods.c,
 * hub_settle.c) and stored comparisons (hub_results.c); see each below. */
#ifndef HUB_DB_H
#define HUB_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "cdof_compare.h"
#include "cdof_figure.h"
#include "cdof_period.h"
#include "cdof_ref.h"
#include "cdof_store.h"
#include "cdof_wire.h"

#define HUB_SCHEMA_VERSION   1 /* the store's "hub" schema: a store of another is refused */
#define HUB_DB_POINT_KEY_LEN 16
#define HUB_DB_AGENT_MAX     64
#define HUB_DB_NOTE_MAX      1024
#define HUB_DB_METRIC_MAX    128 /* longest metric id, bytes */
#define HUB_DB_AREA_LEN      9   /* ONS area codes: E06000001 */

typedef struct hub_db hub_db_t;

typedef struct {
    cdof_figure_t fig;
    int64_t received_ms;             /* when the hub committed it */
    uint64_t sequence;               /* the sender's sequence */
    char agent_id[HUB_DB_AGENT_MAX]; /* the sender */
    char note[HUB_DB_NOTE_MAX];
} hub_point_t;

typedef struct {
    char agent_id[HUB_DB_AGENT_MAX];
    uint64_t high_water;   /* highest sequence committed */
    int64_t last_heard_ms; /* last envelope or heartbeat */
    uint64_t outbox_depth; /* as the agent last reported */
    uint64_t oldest_unacked_ms;
} hub_agent_record_t;

/* Opens (creating unless the store is read-only) every database of the schema in store, which
 * must outlive *out: "hub_meta" (holds nothing yet), "milestones", "periods", "rejections",
 * "points", "history", "metric_codes", "metric_names" and "agents". Owned by the caller:
 * hub_db_close. Returns 0, CDOF_ENOTFOUND (read-only store that lacks one of them: no hub ever
 * opened it) or a negative code. Invalid arguments (area code not 9 bytes, period kind or pooled
 * length out of range, metric id empty or too long, agent id or note not NUL-terminated within
 * its array) give -EINVAL throughout. */
int hub_db_open(cdof_store_t *store, hub_db_t **out);
void hub_db_close(hub_db_t **db);

/* The handles of the databases whose records the hub's modules read and write themselves, with
 * the codecs below: the period index, milestone events and rejected envelopes. Valid as long as
 * db. */
cdof_store_db_t hub_db_periods(const hub_db_t *db);
cdof_store_db_t hub_db_milestones(const hub_db_t *db);
cdof_store_db_t hub_db_rejections(const hub_db_t *db);

/* Writes (or revises) one point, keeping period->last_day and every field of pt (copied).
 * metric_id is interned on first use (write txn). CDOF_EFULL after 65535 metric ids. */
int hub_db_point_put(hub_db_t *db, cdof_store_txn_t *txn, const char *metric_id,
                     const char *area_code, const cdof_period_t *period, const hub_point_t *pt);

/* As hub_db_point_put, for a caller that writes many points of few metrics in one transaction:
 * *code is the caller's memo of metric_id's code, 0 until this call fills it. The memo is good
 * only within txn (an aborted transaction takes back a code it handed out): the caller sets it
 * to 0 whenever it begins another, and passes one memo per metric_id. */
int hub_db_point_put_memo(hub_db_t *db, cdof_store_txn_t *txn, const char *metric_id,
                          uint16_t *code, const char *area_code, const cdof_period_t *period,
                          const hub_point_t *pt);

/* Reads the latest value. Returns 0 or CDOF_ENOTFOUND. */
int hub_db_point_get(hub_db_t *db, cdof_store_txn_t *txn, const char *metric_id,
                     const char *area_code, const cdof_period_t *period, hub_point_t *out);

/* Reads the value as it stood at as_at_ms (the latest revision received at or before it).
 * Returns 0 or CDOF_ENOTFOUND. */
int hub_db_point_get_as_at(hub_db_t *db, cdof_store_txn_t *txn, const char *metric_id,
                           const char *area_code, const cdof_period_t *period, int64_t as_at_ms,
                           hub_point_t *out);

/* A cursor over every area's point for one metric and period, in area-code order: open, then
 * next until it returns 0. A metric never written gives a cursor that finds nothing. *out owned
 * by the caller (hub_db_points_close, before or after txn ends). next returns 1 with *pt filled
 * and *area (may be NULL) the area code, NUL-terminated and owned by the cursor until the next
 * call; 0 at the end; or a negative code. */
typedef struct hub_db_points_cursor hub_db_points_cursor_t;
int hub_db_points_open(hub_db_t *db, cdof_store_txn_t *txn, const char *metric_id,
                       const cdof_period_t *period, hub_db_points_cursor_t **out);
int hub_db_points_next(hub_db_points_cursor_t *c, const char **area, hub_point_t *pt);
void hub_db_points_close(hub_db_points_cursor_t **c);

/* A cursor over every point of every metric and period, in key order (period first day, kind,
 * metric code, area), as the points cursor: next returns 1 with *pt and *period filled and
 * *metric_id and *area (either may be NULL) NUL-terminated and owned by the cursor until the next
 * call; 0 at the end; or a negative code (CDOF_ECORRUPT for a key or metric code the layout does
 * not describe). */
typedef struct hub_db_points_all_cursor hub_db_points_all_cursor_t;
int hub_db_points_all_open(hub_db_t *db, cdof_store_txn_t *txn, hub_db_points_all_cursor_t **out);
int hub_db_points_all_next(hub_db_points_all_cursor_t *c, const char **metric_id, const char **area,
                           cdof_period_t *period, hub_point_t *pt);
void hub_db_points_all_close(hub_db_points_all_cursor_t **c);

/* The interned code of metric_id, or CDOF_ENOTFOUND when it was never written. */
int hub_db_metric_code(hub_db_t *db, cdof_store_txn_t *txn, const char *metric_id, uint16_t *out);

/* Agent records (key agent_id, 1..63 bytes). get returns CDOF_ENOTFOUND for an agent never seen. */
int hub_db_agent_get(hub_db_t *db, cdof_store_txn_t *txn, const char *agent_id,
                     hub_agent_record_t *out);
int hub_db_agent_put(hub_db_t *db, cdof_store_txn_t *txn, const hub_agent_record_t *rec);
/* A cursor over the agent records in agent-id order, as the points cursor: next returns 1 with
 * *rec filled, 0 at the end, or a negative code. */
typedef struct hub_db_agents_cursor hub_db_agents_cursor_t;
int hub_db_agents_open(hub_db_t *db, cdof_store_txn_t *txn, hub_db_agents_cursor_t **out);
int hub_db_agents_next(hub_db_agents_cursor_t *c, hub_agent_record_t *rec);
void hub_db_agents_close(hub_db_agents_cursor_t **c);

/* ---- Periods: the index ("periods"), states ("period_state") and settle marks ----
 *
 * A metric's period is "metric_id NUL" then HUB_PERIOD_KEY_LEN bytes: first day (day + 2^31, u32
 * BE), kind u8, last day (likewise), so that a metric's periods are one run sorted by first day. */
#define HUB_PERIOD_KEY_LEN 9
#define HUB_PERIOD_KEY_MAX (CDOF_WIRE_MAX_ID + 1 + HUB_PERIOD_KEY_LEN)

/* The key of (m, p) into key (HUB_PERIOD_KEY_MAX bytes: the reference data's metric ids are
 * shorter than CDOF_WIRE_MAX_ID); returns its length. */
size_t hub_period_key(const cdof_metric_t *m, const cdof_period_t *p, uint8_t *key);
/* The HUB_PERIOD_KEY_LEN bytes of p alone, for keys that hold a period after other fields. */
void hub_period_put(uint8_t *k, const cdof_period_t *p);
/* The period back from the HUB_PERIOD_KEY_LEN bytes at k. */
cdof_period_t hub_period_from_key(const uint8_t *k);

/* ---- Milestone events ("milestones") ----
 *
 * Key partnership NUL milestone NUL day (day + 2^31, u32 BE), so that one partnership's events
 * are one run and each milestone's a prefix of it; the value is the packed MilestoneEvent. */
#define HUB_MILESTONE_KEY_MAX (2 * (CDOF_WIRE_MAX_ID + 1) + 4)
typedef struct {
    const char *partnership, *milestone; /* NUL-terminated, inside the key */
    int32_t day;
} hub_milestone_key_t;
/* The key of (partnership, milestone, day) into key (HUB_MILESTONE_KEY_MAX bytes), or with
 * with_day false the prefix every day of that pair shares. Returns its length, or 0 when a name
 * is longer than CDOF_WIRE_MAX_ID. */
size_t hub_milestone_key(const char *partnership, const char *milestone, int32_t day, bool with_day,
                         uint8_t *key);
/* Splits a stored key (pointers into key). Returns 0 or CDOF_ECORRUPT. */
int hub_milestone_from_key(const void *key, size_t len, hub_milestone_key_t *out);

/* ---- Rejected envelopes ("rejections") ----
 *
 * Kept by agent and sequence so a resent rejected envelope is answered the same way. Key: agent
 * id NUL sequence u64 BE. Value: the reason, NUL, when it was refused (ms, u64 BE) and the sending
 * key's partnership; records from before the time was kept hold the reason alone. */
#define HUB_REJECTION_KEY_MAX   (HUB_DB_AGENT_MAX + 9)
#define HUB_REJECTION_VALUE_MAX (CDOF_WIRE_MAX_TEXT + 9 + HUB_DB_AGENT_MAX)
typedef struct {
    const char *agent_id, *reason, *partnership; /* inside the record: not NUL-terminated */
    size_t agent_len, reason_len, partnership_len;
    uint64_t sequence;
    int64_t rejected_ms; /* 0 for a record without the time */
} hub_rejection_t;
/* The key of (agent, seq) into key (HUB_REJECTION_KEY_MAX bytes). Returns its length, or 0 when
 * agent is longer than HUB_DB_AGENT_MAX bytes. */
size_t hub_rejection_key(const char *agent, uint64_t seq, uint8_t *key);
/* The value into val (HUB_REJECTION_VALUE_MAX bytes): reason and partnership (may be NULL) are
 * cut to what fits. Returns its length. */
size_t hub_rejection_value(const char *reason, int64_t rejected_ms, const char *partnership,
                           uint8_t *val);
/* Splits a stored record (pointers into key and val). Returns 0, or CDOF_ECORRUPT for a key this
 * layout does not describe. */
int hub_rejection_from_record(const cdof_bytes_t *key, const cdof_bytes_t *val,
                              hub_rejection_t *out);

/* ---- Stored comparisons ("results") ----
 *
 * Key: metric id NUL | basis u8 | the period's HUB_PERIOD_KEY_LEN bytes | area or partnership
 * code, so that all rows of one metric, basis and period are one prefix (the key without a
 * code). One key no metric id can start with, HUB_RESULT_FINGERPRINT_KEY, holds a u64 BE
 * fingerprint of the configuration (partnerships, commitments) the rows were computed with.
 *
 * Value: version u8 (HUB_RESULT_VERSION) | flags u16 BE | vs_england, vs_region, quintile,
 * trend, vs_baseline, vs_trajectory (u8 each) | numerator, denominator, value, ci95 lower/upper,
 * ci998 lower/upper, england, region, trend slope, se, chi2, baseline, trajectory (f64 bits BE)
 * | received_ms i64 BE | reported, expected u32 BE | partnership code length u8 | code. */
#define HUB_RESULT_VERSION             2  /* 2: coverage and provisional flags */
#define HUB_RESULT_CODE_MAX            64 /* partnership ids and area codes, with their NUL */
#define HUB_RESULT_KEY_MAX             (HUB_DB_METRIC_MAX + 2 + HUB_PERIOD_KEY_LEN + HUB_RESULT_CODE_MAX)
#define HUB_RESULT_VALUE_MAX           (1 + 2 + 6 + 14 * 8 + 8 + 8 + 1 + HUB_RESULT_CODE_MAX)
#define HUB_RESULT_FINGERPRINT_KEY     ((const uint8_t *)"\0config")
#define HUB_RESULT_FINGERPRINT_KEY_LEN 7

typedef struct {
    const char *metric_id, *code; /* inside the key: not NUL-terminated */
    size_t metric_len, code_len;
    uint8_t basis;
    cdof_period_t period;
} hub_result_key_t;

/* The key of (metric_id, basis, p, code) into key (HUB_RESULT_KEY_MAX bytes), or with code NULL
 * the prefix every row of that metric, basis and period shares. Returns its length, or 0 when
 * metric_id is longer than HUB_DB_METRIC_MAX or code not shorter than HUB_RESULT_CODE_MAX. */
size_t hub_result_key(const char *metric_id, uint8_t basis, const cdof_period_t *p,
                      const char *code, uint8_t *key);
/* Splits a stored row's key (pointers into key). Returns 0, or CDOF_ECORRUPT for the
 * fingerprint key or a key too short for this layout. */
int hub_result_from_key(const void *key, size_t len, hub_result_key_t *out);
/* The value of row r into val (HUB_RESULT_VALUE_MAX bytes); a partnership code too long to keep
 * is stored empty. Returns its length. r->area is not stored: it is the key's code. */
size_t hub_result_value(const cdof_compare_row_t *r, uint8_t *val);
/* Decodes a stored value into *r, all but area and partnership, which are left NULL: the
 * caller resolves the key's code and *partnership (plen bytes inside val, not NUL-terminated,
 * empty when the row has none) against its reference data. Returns 0, CDOF_EVERSION for
 * another version or CDOF_ECORRUPT. */
int hub_result_from_value(const cdof_bytes_t *val, cdof_compare_row_t *r, const char **partnership,
                          size_t *plen);

#endif
