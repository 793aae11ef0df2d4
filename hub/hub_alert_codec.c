/* Fixed little-endian layouts of the alert databases' values (hub_alert_codec.h). */
#include <limits.h>
#include <string.h>

#include "cdof_error.h"
#include "hub_alert_codec.h"

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void hub_alert_state_init(hub_alert_state_t *st)
{
    memset(st, 0, sizeof *st);
    st->period_first_day = INT32_MIN;
}

void hub_alert_state_encode(const hub_alert_state_t *st, uint8_t out[HUB_ALERT_STATE_LEN])
{
    memset(out, 0, HUB_ALERT_STATE_LEN);
    out[0] = st->firing;
    out[1] = st->notified;
    put32(out + 4, (uint32_t)st->period_first_day);
    put32(out + 8, st->streak_before);
    put32(out + 12, st->streak);
    put64(out + 16, st->fired_seq);
}

int hub_alert_state_decode(const void *val, size_t len, hub_alert_state_t *st)
{
    const uint8_t *v = val;
    hub_alert_state_init(st);
    if (len == HUB_ALERT_STATE_LEN) {
        st->firing = v[0] != 0;
        st->notified = v[1] != 0;
        st->period_first_day = (int32_t)get32(v + 4);
        st->streak_before = get32(v + 8);
        st->streak = get32(v + 12);
        st->fired_seq = get64(v + 16);
    } else if (len == HUB_ALERT_STATE_V1_LEN) {
        /* Version 1 kept no streaks: a firing key had met its condition once. */
        st->firing = st->notified = v[0] != 0;
        st->period_first_day = (int32_t)get32(v + 4);
        st->streak = st->streak_before = v[0];
    } else {
        return CDOF_ECORRUPT;
    }
    return 0;
}

void hub_settle_mark_encode(const hub_settle_mark_t *mk, uint8_t out[HUB_SETTLE_MARK_LEN])
{
    put64(out, (uint64_t)mk->first_ms);
    put64(out + 8, (uint64_t)mk->last_ms);
    put64(out + 16, (uint64_t)mk->flags);
}

int hub_settle_mark_decode(const void *val, size_t len, hub_settle_mark_t *mk)
{
    const uint8_t *v = val;
    if (len != HUB_SETTLE_MARK_LEN && len != HUB_SETTLE_MARK_V1_LEN)
        return CDOF_ECORRUPT;
    mk->first_ms = (int64_t)get64(v);
    mk->last_ms = (int64_t)get64(v + 8);
    mk->flags = len == HUB_SETTLE_MARK_LEN ? (int64_t)get64(v + 16) : HUB_MARK_REJUDGE;
    return 0;
}
