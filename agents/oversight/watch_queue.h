/* cdof-watch's durable state on the LMDB store (schema "watch", version 1): the last alert
 * sequence taken, the groups waiting for their digest, and the notices waiting for delivery.
 *
 * Databases:
 *   queue    "last_seq", "next_id", "delivered", "failed", "expired" (u64 BE); "created" (empty,
 *            written when the store is made). Idempotency keys start with the store's own id
 *            (cdof_store_id), so that they differ between watchers.
 *   notes    id (u64 BE) -> created_ms | next_ms (i64 BE) | attempts (u32 BE) | alert_seq (u64 BE)
 *            | receiver NUL | key NUL | subject NUL | body          waiting for delivery
 *   expired  id (u64 BE) -> expired_ms (i64 BE) | the notes value   given up on, kept for audit
 *   groups   route NUL group (text) -> created_ms | flushed_ms (i64 BE) | changed | repeatable (u8)
 *   members  route NUL group NUL dedupe key -> flags (u8) | packed Alert
 *
 * Everything that changes the state goes through a write transaction the caller begins, so that
 * taking an alert (its group membership, its notices) and advancing last_seq commit together:
 * a crash leaves the alert either wholly taken or not taken (and fetched from the hub again).
 *
 * For the loop thread only. Strings passed in are copied; strings handed to visitors are valid
 * only during the call. */
#ifndef WATCH_QUEUE_H
#define WATCH_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdof.pb-c.h"
#include "cdof_store.h"

typedef struct watch_queue watch_queue_t;

/* Delivery counters: the figures a monitoring system would scrape. delivered, failed (attempts
 * that failed) and expired count since the store was made; retrying (notices that failed at
 * least once and wait for another attempt) and queued (all waiting notices) are gauges. */
typedef struct {
    uint64_t delivered;
    uint64_t failed;
    uint64_t retrying;
    uint64_t expired;
    uint64_t queued;
} watch_counters_t;

/* A notice. As an argument, the strings are borrowed; from watch_queue_note_get they are owned
 * by the note (watch_queue_note_clear). */
typedef struct {
    uint64_t id;
    int64_t created_ms, next_ms;
    uint32_t attempts;
    uint64_t alert_seq; /* the one alert it is about (per-alert exec), 0 for a digest */
    char *receiver;
    char *key; /* idempotency key, the same on every attempt */
    char *subject;
    char *body;
    size_t body_len;
} watch_note_t;

/* Member flags. */
enum {
    WATCH_MEMBER_NOTIFIED = 1, /* a digest has told its firing */
    WATCH_MEMBER_ACKED = 2,    /* acknowledged: no more repeats */
    WATCH_MEMBER_RESOLVED = 4  /* resolved: told once in the next digest, then dropped */
};

/* Opens (creating it in dir, which must exist, unless read_only) the store. A second writer is
 * refused with CDOF_ELOCKED. *out is owned by the caller (watch_queue_close). */
int watch_queue_open(const char *dir, bool read_only, watch_queue_t **out, char *err,
                     size_t errlen);
void watch_queue_close(watch_queue_t **q);

/* Whether the store was created by this open (no earlier state). */
bool watch_queue_is_new(const watch_queue_t *q);

int watch_queue_begin(watch_queue_t *q, bool write, cdof_store_txn_t **txn);

/* The last sequence taken (0: none), and setting it. */
int watch_queue_last_seq(watch_queue_t *q, cdof_store_txn_t *txn, uint64_t *seq);
int watch_queue_set_last_seq(watch_queue_t *q, cdof_store_txn_t *txn, uint64_t seq);

/* Queues a notice: assigns note->id and, from the store id and that, a key when note->key is
 * NULL ("STOREID-ID", written to keybuf, keylen bytes, which note->key then points to). */
int watch_queue_note_add(watch_queue_t *q, cdof_store_txn_t *txn, watch_note_t *note, char *keybuf,
                         size_t keylen);
/* The key watch_queue_note_add gives the next notice queued in txn when it has none, for a
 * body that quotes its own key. Returns 0 or -ENAMETOOLONG. */
int watch_queue_note_key(watch_queue_t *q, cdof_store_txn_t *txn, char *buf, size_t len);
/* The ids of notices due at now_ms (next_ms <= now), oldest first, at most cap, leaving out those
 * whose receiver skip (may be NULL) says to pass over: a receiver that is failing must not keep
 * the others' notices from being looked at. */
typedef bool (*watch_queue_skip_fn)(void *ctx, const char *receiver);
int watch_queue_due(watch_queue_t *q, int64_t now_ms, watch_queue_skip_fn skip, void *ctx,
                    uint64_t *ids, size_t cap, size_t *n);
/* A copy of notice id (CDOF_ENOTFOUND when gone). */
int watch_queue_note_get(watch_queue_t *q, uint64_t id, watch_note_t *out);
void watch_queue_note_clear(watch_note_t *n);
/* Each in its own committed transaction: delivered (removed, counted); failed once more (counted,
 * attempts + 1, next try at next_ms); expired (moved to "expired", counted). */
int watch_queue_note_done(watch_queue_t *q, uint64_t id);
int watch_queue_note_retry(watch_queue_t *q, uint64_t id, int64_t next_ms);
int watch_queue_note_expire(watch_queue_t *q, uint64_t id, int64_t now_ms);

/* The wait before attempt n + 1 after n failures (n >= 1): initial * 2^(n-1) capped at max, then
 * jittered into [half, whole] by r in [0, 1) so that watchers restarted together spread out. */
int64_t watch_queue_backoff_ms(uint32_t failures, long initial_ms, long max_ms, double r);

int watch_queue_counters(watch_queue_t *q, watch_counters_t *out);

/* Visits the expired notices, oldest first: when each expired and the notice (its strings valid
 * only during the call). fn returns 0 to go on, > 0 to stop, < 0 to stop with that error. */
typedef int (*watch_queue_expired_fn)(void *ctx, int64_t expired_ms, const watch_note_t *n);
int watch_queue_each_expired(watch_queue_t *q, watch_queue_expired_fn fn, void *ctx);

/* --- groups --- */

typedef struct {
    int64_t created_ms, flushed_ms;
    bool changed, repeatable;
} watch_group_t;

/* A group's state: 0, or CDOF_ENOTFOUND. */
int watch_queue_group_get(watch_queue_t *q, cdof_store_txn_t *txn, const char *route,
                          const char *group, watch_group_t *g);
int watch_queue_group_put(watch_queue_t *q, cdof_store_txn_t *txn, const char *route,
                          const char *group, const watch_group_t *g);
/* Removes the group and its members. */
int watch_queue_group_del(watch_queue_t *q, cdof_store_txn_t *txn, const char *route,
                          const char *group);
typedef int (*watch_queue_group_fn)(void *ctx, const char *route, const char *group,
                                    const watch_group_t *g);
int watch_queue_each_group(watch_queue_t *q, cdof_store_txn_t *txn, watch_queue_group_fn fn,
                           void *ctx);

/* A member: its flags and the alert record kept for it (*alert owned by the caller:
 * cdof__v1__alert__free_unpacked). 0, or CDOF_ENOTFOUND. */
int watch_queue_member_get(watch_queue_t *q, cdof_store_txn_t *txn, const char *route,
                           const char *group, const char *dedupe, uint8_t *flags,
                           Cdof__V1__Alert **alert);
int watch_queue_member_put(watch_queue_t *q, cdof_store_txn_t *txn, const char *route,
                           const char *group, const char *dedupe, uint8_t flags,
                           const Cdof__V1__Alert *alert);
int watch_queue_member_del(watch_queue_t *q, cdof_store_txn_t *txn, const char *route,
                           const char *group, const char *dedupe);
/* Visits a group's members in dedupe key order. alert is handed over: the visitor frees it
 * (cdof__v1__alert__free_unpacked) or keeps it; dedupe is valid only during the call. */
typedef int (*watch_queue_member_fn)(void *ctx, const char *dedupe, uint8_t flags,
                                     Cdof__V1__Alert *alert);
int watch_queue_each_member(watch_queue_t *q, cdof_store_txn_t *txn, const char *route,
                            const char *group, watch_queue_member_fn fn, void *ctx);

#endif
