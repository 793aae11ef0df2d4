/* The values of the alert databases, in a fixed little-endian layout (docs/DESIGN.md "Store
 * keys"): the state of a dedupe key (`alert_state`) and the marks of a metric-period awaiting
 * comparison and judgement (`alert_settle`). Pure: no store, no sockets.
 *
 * The layouts are those the x86-64 hubs wrote as raw structs before they had a codec, so their
 * stores read the same bytes; a hub on any other machine reads and writes them too. */
#ifndef CDOF_HUB_ALERT_CODEC_H
#define CDOF_HUB_ALERT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* alert_state value: firing u8 | notified u8 | 2 zero bytes | period_first_day i32 |
 * streak_before u32 | streak u32 | fired_seq u64. Version 1 values were 8 bytes: firing u8 |
 * 3 bytes | period_first_day i32. */
#define HUB_ALERT_STATE_LEN    24
#define HUB_ALERT_STATE_V1_LEN 8

typedef struct {
    bool firing;
    bool notified;            /* the last firing was published unmuted */
    int32_t period_first_day; /* the period last judged; INT32_MIN for rules without periods */
    uint32_t streak_before;   /* bad periods in a row before that period */
    uint32_t streak;          /* ... including it */
    uint64_t fired_seq;       /* the sequence of the firing record */
} hub_alert_state_t;

/* The state of a key never judged: not firing, no period. */
void hub_alert_state_init(hub_alert_state_t *st);
void hub_alert_state_encode(const hub_alert_state_t *st, uint8_t out[HUB_ALERT_STATE_LEN]);
/* Decodes a stored value of either length. Returns 0 or CDOF_ECORRUPT (another length). */
int hub_alert_state_decode(const void *val, size_t len, hub_alert_state_t *st);

/* alert_settle value: first_ms i64 | last_ms i64 | flags i64. Version 1 values were 16 bytes,
 * without flags; they read as HUB_MARK_REJUDGE. */
#define HUB_SETTLE_MARK_LEN    24
#define HUB_SETTLE_MARK_V1_LEN 16

/* The period's own rows were stored at its completion (and judged): what depends on them is
 * refreshed for every area. */
#define HUB_MARK_REFRESH 1
/* New data for a complete or closed period: it is judged again. */
#define HUB_MARK_REJUDGE 2

typedef struct {
    int64_t first_ms, last_ms; /* first and latest mark (wall clock) */
    int64_t flags;             /* HUB_MARK_* */
} hub_settle_mark_t;

void hub_settle_mark_encode(const hub_settle_mark_t *mk, uint8_t out[HUB_SETTLE_MARK_LEN]);
/* Decodes a stored value of either length. Returns 0 or CDOF_ECORRUPT. */
int hub_settle_mark_decode(const void *val, size_t len, hub_settle_mark_t *mk);

#endif
