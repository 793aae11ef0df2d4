/* The national store's schema over the store: its databases, and every key layout and value
 * encoding in them (see hub_db.h). */
#include "hub_db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_error.h"

#define HUB_DB_POINT_VERSION   1
#define HUB_DB_POINT_F_NUM     0x01
#define HUB_DB_POINT_F_DEN     0x02
#define HUB_DB_POINT_F_VAL     0x04
#define HUB_DB_POINT_FIXED_LEN 46 /* version .. last_day */
#define HUB_DB_POINT_VALUE_MAX                                                                     \
    (HUB_DB_POINT_FIXED_LEN + 1 + (HUB_DB_AGENT_MAX - 1) + 2 + (HUB_DB_NOTE_MAX - 1))
#define HUB_DB_PREFIX_LEN 7 /* period and metric: one scan's worth */
#define HUB_DB_HKEY_LEN   (HUB_DB_POINT_KEY_LEN + 8)
#define HUB_DB_AGENT_LEN  33 /* version, four u64 */
#define HUB_DB_MS_BIAS    ((uint64_t)1 << 63)

struct hub_db {
    cdof_store_t *store;
    cdof_store_db_t points, history, codes, names, agents;
    cdof_store_db_t meta, milestones, periods, rejections;
};

int hub_db_open(cdof_store_t *store, hub_db_t **out)
{
    hub_db_t *p;
    int rc;

    if (out)
        *out = NULL;
    if (!store || !out)
        return -EINVAL;
    p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->store = store;
    /* In the order the hub has always created them, so that a new store's pages are laid out as
     * before, and a read-only open that finds "points" finds the others too. */
    if ((rc = cdof_store_db(store, "hub_meta", &p->meta)) != 0 ||
        (rc = cdof_store_db(store, "milestones", &p->milestones)) != 0 ||
        (rc = cdof_store_db(store, "periods", &p->periods)) != 0 ||
        (rc = cdof_store_db(store, "rejections", &p->rejections)) != 0 ||
        (rc = cdof_store_db(store, "points", &p->points)) != 0 ||
        (rc = cdof_store_db(store, "history", &p->history)) != 0 ||
        (rc = cdof_store_db(store, "metric_codes", &p->codes)) != 0 ||
        (rc = cdof_store_db(store, "metric_names", &p->names)) != 0 ||
        (rc = cdof_store_db(store, "agents", &p->agents)) != 0)
        goto fail;
    *out = p;
    return 0;

fail:
    free(p);
    return rc;
}

void hub_db_close(hub_db_t **db)
{
    if (!db)
        return;
    free(*db);
    *db = NULL;
}

cdof_store_db_t hub_db_milestones(const hub_db_t *db)
{
    return db->milestones;
}

cdof_store_db_t hub_db_periods(const hub_db_t *db)
{
    return db->periods;
}

cdof_store_db_t hub_db_rejections(const hub_db_t *db)
{
    return db->rejections;
}

static uint64_t hub_db_f64_bits(double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof u);
    return u;
}

static double hub_db_bits_f64(uint64_t u)
{
    double d;

    memcpy(&d, &u, sizeof d);
    return d;
}

static int hub_db_kind_byte(const cdof_period_t *p, uint8_t *out)
{
    int64_t span;
    int64_t years;

    if (!p || p->last_day < p->first_day)
        return -EINVAL;
    switch (p->kind) {
    case CDOF_PERIOD_MONTH:
    case CDOF_PERIOD_QUARTER:
    case CDOF_PERIOD_FINANCIAL_YEAR:
    case CDOF_PERIOD_CALENDAR_YEAR:
        *out = (uint8_t)p->kind;
        return 0;
    case CDOF_PERIOD_POOLED_YEARS:
        /* n whole years span 365n days plus at most 3 leap days for n <= 10. */
        span = (int64_t)p->last_day - p->first_day + 1;
        years = span / 365;
        if (years < 2 || years > 10 || span - years * 365 > 3)
            return -EINVAL;
        *out = (uint8_t)(p->kind | years << 3);
        return 0;
    default:
        return -EINVAL;
    }
}

static bool hub_db_area_ok(const char *area)
{
    if (!area || strnlen(area, HUB_DB_AREA_LEN + 1) != HUB_DB_AREA_LEN)
        return false;
    for (int i = 0; i < HUB_DB_AREA_LEN; i++) {
        if (area[i] < '!' || area[i] > '~')
            return false;
    }
    return true;
}

/* Everything but the metric code, which callers fill once they have it. */
static int hub_db_key(const char *area, const cdof_period_t *period,
                      uint8_t key[HUB_DB_POINT_KEY_LEN])
{
    uint8_t kind;
    int rc;

    if (!hub_db_area_ok(area))
        return -EINVAL;
    if ((rc = hub_db_kind_byte(period, &kind)) != 0)
        return rc;
    cdof_store_be_day(key, period->first_day);
    key[4] = kind;
    cdof_store_be16(key + 5, 0);
    memcpy(key + 7, area, HUB_DB_AREA_LEN);
    return 0;
}

static int hub_db_encode(const hub_point_t *pt, int32_t last_day,
                         uint8_t buf[HUB_DB_POINT_VALUE_MAX], size_t *len)
{
    size_t alen = strnlen(pt->agent_id, HUB_DB_AGENT_MAX);
    size_t nlen = strnlen(pt->note, HUB_DB_NOTE_MAX);
    uint8_t *p = buf;

    if (alen == HUB_DB_AGENT_MAX || nlen == HUB_DB_NOTE_MAX)
        return -EINVAL;
    *p++ = HUB_DB_POINT_VERSION;
    *p++ = (uint8_t)((pt->fig.has_numerator ? HUB_DB_POINT_F_NUM : 0) |
                     (pt->fig.has_denominator ? HUB_DB_POINT_F_DEN : 0) |
                     (pt->fig.has_value ? HUB_DB_POINT_F_VAL : 0));
    cdof_store_be64(p, hub_db_f64_bits(pt->fig.numerator));
    cdof_store_be64(p + 8, hub_db_f64_bits(pt->fig.denominator));
    cdof_store_be64(p + 16, hub_db_f64_bits(pt->fig.value));
    cdof_store_be64(p + 24, (uint64_t)pt->received_ms);
    cdof_store_be64(p + 32, pt->sequence);
    cdof_store_be32(p + 40, (uint32_t)last_day);
    p += 44;
    *p++ = (uint8_t)alen;
    memcpy(p, pt->agent_id, alen);
    p += alen;
    cdof_store_be16(p, (uint16_t)nlen);
    p += 2;
    memcpy(p, pt->note, nlen);
    p += nlen;
    *len = (size_t)(p - buf);
    return 0;
}

static int hub_db_decode(const void *data, size_t len, hub_point_t *out, int32_t *last_day)
{
    const uint8_t *p = data;
    size_t alen, nlen;

    if (len < 1)
        return CDOF_ECORRUPT;
    if (p[0] != HUB_DB_POINT_VERSION)
        return CDOF_EVERSION;
    if (len < HUB_DB_POINT_FIXED_LEN + 1 + 2 ||
        (p[1] & ~(HUB_DB_POINT_F_NUM | HUB_DB_POINT_F_DEN | HUB_DB_POINT_F_VAL)) != 0)
        return CDOF_ECORRUPT;
    alen = p[HUB_DB_POINT_FIXED_LEN];
    if (alen >= HUB_DB_AGENT_MAX || len < HUB_DB_POINT_FIXED_LEN + 1 + alen + 2)
        return CDOF_ECORRUPT;
    nlen = cdof_store_rd16(p + HUB_DB_POINT_FIXED_LEN + 1 + alen);
    if (nlen >= HUB_DB_NOTE_MAX || len != HUB_DB_POINT_FIXED_LEN + 1 + alen + 2 + nlen)
        return CDOF_ECORRUPT;

    out->fig.has_numerator = p[1] & HUB_DB_POINT_F_NUM;
    out->fig.has_denominator = p[1] & HUB_DB_POINT_F_DEN;
    out->fig.has_value = p[1] & HUB_DB_POINT_F_VAL;
    out->fig.numerator = hub_db_bits_f64(cdof_store_rd64(p + 2));
    out->fig.denominator = hub_db_bits_f64(cdof_store_rd64(p + 10));
    out->fig.value = hub_db_bits_f64(cdof_store_rd64(p + 18));
    out->received_ms = (int64_t)cdof_store_rd64(p + 26);
    out->sequence = cdof_store_rd64(p + 34);
    if (last_day)
        *last_day = (int32_t)cdof_store_rd32(p + 42);
    memcpy(out->agent_id, p + HUB_DB_POINT_FIXED_LEN + 1, alen);
    out->agent_id[alen] = '\0';
    memcpy(out->note, p + HUB_DB_POINT_FIXED_LEN + 1 + alen + 2, nlen);
    out->note[nlen] = '\0';
    return 0;
}

static int hub_db_code(hub_db_t *db, cdof_store_txn_t *txn, const char *metric_id, bool create,
                       uint16_t *out)
{
    cdof_bytes_t k, v;
    uint8_t code[2];
    size_t len;
    uint32_t next;
    int rc;

    len = metric_id ? strnlen(metric_id, HUB_DB_METRIC_MAX + 1) : 0;
    if (len == 0 || len > HUB_DB_METRIC_MAX)
        return -EINVAL;
    rc = cdof_store_get(txn, db->codes, metric_id, len, &v);
    if (rc == 0) {
        if (v.len != 2)
            return CDOF_ECORRUPT;
        *out = cdof_store_rd16(v.data);
        return 0;
    }
    if (rc != CDOF_ENOTFOUND || !create)
        return rc;

    /* Codes are handed out in order, so the next is one past the greatest. */
    rc = cdof_store_last(txn, db->names, &k, &v);
    if (rc == CDOF_ENOTFOUND) {
        next = 1;
    } else if (rc != 0) {
        return rc;
    } else {
        if (k.len != 2)
            return CDOF_ECORRUPT;
        next = (uint32_t)cdof_store_rd16(k.data) + 1;
        if (next > UINT16_MAX)
            return CDOF_EFULL;
    }
    cdof_store_be16(code, (uint16_t)next);
    if ((rc = cdof_store_put(txn, db->codes, metric_id, len, code, 2)) != 0 ||
        (rc = cdof_store_put(txn, db->names, code, 2, metric_id, len)) != 0)
        return rc;
    *out = (uint16_t)next;
    return 0;
}

int hub_db_metric_code(hub_db_t *db, cdof_store_txn_t *txn, const char *metric_id, uint16_t *out)
{
    if (!db || !txn || !out)
        return -EINVAL;
    return hub_db_code(db, txn, metric_id, false, out);
}

int hub_db_point_put(hub_db_t *db, cdof_store_txn_t *txn, const char *metric_id,
                     const char *area_code, const cdof_period_t *period, const hub_point_t *pt)
{
    uint16_t code = 0;

    return hub_db_point_put_memo(db, txn, metric_id, &code, area_code, period, pt);
}

int hub_db_point_put_memo(hub_db_t *db, cdof_store_txn_t *txn, const char *metric_id,
                          uint16_t *code, const char *area_code, const cdof_period_t *period,
                          const hub_point_t *pt)
{
    uint8_t key[HUB_DB_POINT_KEY_LEN], hkey[HUB_DB_HKEY_LEN];
    uint8_t val[HUB_DB_POINT_VALUE_MAX], old[HUB_DB_POINT_VALUE_MAX];
    hub_point_t prev;
    size_t vlen, olen;
    int rc;

    if (!db || !txn || !pt || !code)
        return -EINVAL;
    /* Check everything before interning, so a bad row leaves no trace. */
    if ((rc = hub_db_key(area_code, period, key)) != 0 ||
        (rc = hub_db_encode(pt, period->last_day, val, &vlen)) != 0)
        return rc;
    /* Codes start at 1: 0 is "not looked up yet", and the look-up is an LMDB get per point. */
    if (*code == 0 && (rc = hub_db_code(db, txn, metric_id, true, code)) != 0)
        return rc;
    cdof_store_be16(key + 5, *code);

    /* The new value goes in as the old comes out: a corrupt old value fails the put after the
     * write, and the caller aborts the transaction. */
    rc = cdof_store_swap(txn, db->points, key, sizeof key, val, vlen, old, sizeof old, &olen);
    if (rc <= 0)
        return rc == -ENOBUFS ? CDOF_ECORRUPT : rc;
    if ((rc = hub_db_decode(old, olen, &prev, NULL)) != 0)
        return rc;
    memcpy(hkey, key, sizeof key);
    cdof_store_be64(hkey + sizeof key, (uint64_t)prev.received_ms ^ HUB_DB_MS_BIAS);
    return cdof_store_put(txn, db->history, hkey, sizeof hkey, old, olen);
}

/* The full key of an existing metric, or CDOF_ENOTFOUND. */
static int hub_db_lookup_key(hub_db_t *db, cdof_store_txn_t *txn, const char *metric_id,
                             const char *area_code, const cdof_period_t *period,
                             uint8_t key[HUB_DB_POINT_KEY_LEN])
{
    uint16_t code;
    int rc;

    if ((rc = hub_db_key(area_code, period, key)) != 0 ||
        (rc = hub_db_code(db, txn, metric_id, false, &code)) != 0)
        return rc;
    cdof_store_be16(key + 5, code);
    return 0;
}

int hub_db_point_get(hub_db_t *db, cdof_store_txn_t *txn, const char *metric_id,
                     const char *area_code, const cdof_period_t *period, hub_point_t *out)
{
    uint8_t key[HUB_DB_POINT_KEY_LEN];
    cdof_bytes_t v;
    int rc;

    if (!db || !txn || !out)
        return -EINVAL;
    if ((rc = hub_db_lookup_key(db, txn, metric_id, area_code, period, key)) != 0 ||
        (rc = cdof_store_get(txn, db->points, key, sizeof key, &v)) != 0)
        return rc;
    return hub_db_decode(v.data, v.len, out, NULL);
}

/* The newest superseded revision of the point at key received at or before as_at: 1 with its
 * received time in *ms and its value in *val (pointing into the map), 0 when none, or a negative
 * code. History is in received order, so the walk stops at the first one too late. */
static int hub_db_history_at(hub_db_t *db, cdof_store_txn_t *txn, const uint8_t *key, int64_t as_at,
                             int64_t *ms, cdof_bytes_t *val)
{
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t k, v;
    int found = 0;
    int rc = cdof_store_cursor_open(txn, db->history, &c);

    for (rc = rc < 0 ? rc : cdof_store_cursor_prefix(c, key, HUB_DB_POINT_KEY_LEN, &k, &v); rc > 0;
         rc = cdof_store_cursor_next(c, &k, &v)) {
        if (k.len != HUB_DB_HKEY_LEN) {
            rc = CDOF_ECORRUPT;
            break;
        }
        int64_t at = (int64_t)(cdof_store_rd64((const uint8_t *)k.data + HUB_DB_POINT_KEY_LEN) ^
                               HUB_DB_MS_BIAS);
        if (at > as_at)
            break;
        found = 1;
        *ms = at;
        *val = v;
    }
    cdof_store_cursor_close(&c);
    return rc < 0 ? rc : found;
}

int hub_db_point_get_as_at(hub_db_t *db, cdof_store_txn_t *txn, const char *metric_id,
                           const char *area_code, const cdof_period_t *period, int64_t as_at_ms,
                           hub_point_t *out)
{
    uint8_t key[HUB_DB_POINT_KEY_LEN];
    hub_point_t *cur = NULL;
    bool cur_ok = false;
    cdof_bytes_t v, old;
    int64_t old_ms = 0;
    int rc;

    if (!db || !txn || !out)
        return -EINVAL;
    if ((rc = hub_db_lookup_key(db, txn, metric_id, area_code, period, key)) != 0)
        return rc;
    if (!(cur = calloc(1, sizeof *cur)))
        return -ENOMEM;
    rc = cdof_store_get(txn, db->points, key, sizeof key, &v);
    if (rc == 0) {
        if ((rc = hub_db_decode(v.data, v.len, cur, NULL)) != 0)
            goto fail;
        cur_ok = cur->received_ms <= as_at_ms;
    } else if (rc != CDOF_ENOTFOUND) {
        goto fail;
    }
    /* The newest revision received by as_at wins; the current one wins a tie, being later. */
    int found = hub_db_history_at(db, txn, key, as_at_ms, &old_ms, &old);
    if (found < 0)
        rc = found;
    else if (found && (!cur_ok || old_ms > cur->received_ms))
        rc = hub_db_decode(old.data, old.len, out, NULL);
    else if (cur_ok)
        *out = *cur;
    else
        rc = CDOF_ENOTFOUND;
fail:
    free(cur);
    return rc;
}

struct hub_db_points_cursor {
    cdof_store_cursor_t *cur; /* NULL: the metric was never written, nothing to walk */
    bool started;
    uint8_t prefix[HUB_DB_PREFIX_LEN];
    char area[HUB_DB_AREA_LEN + 1];
};

int hub_db_points_open(hub_db_t *db, cdof_store_txn_t *txn, const char *metric_id,
                       const cdof_period_t *period, hub_db_points_cursor_t **out)
{
    uint8_t key[HUB_DB_POINT_KEY_LEN];
    hub_db_points_cursor_t *c;
    int rc;

    if (out)
        *out = NULL;
    if (!db || !txn || !out)
        return -EINVAL;
    /* Any well-formed area will do: only the period and metric prefix is used. */
    rc = hub_db_lookup_key(db, txn, metric_id, "E00000000", period, key);
    if (rc != 0 && rc != CDOF_ENOTFOUND)
        return rc;
    if (!(c = calloc(1, sizeof *c)))
        return -ENOMEM;
    memcpy(c->prefix, key, HUB_DB_PREFIX_LEN);
    if (rc == 0 && (rc = cdof_store_cursor_open(txn, db->points, &c->cur)) != 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int hub_db_points_next(hub_db_points_cursor_t *c, const char **area, hub_point_t *pt)
{
    cdof_bytes_t k, v;
    int rc;

    if (!c || !pt)
        return -EINVAL;
    if (!c->cur)
        return 0;
    rc = c->started ? cdof_store_cursor_next(c->cur, &k, &v)
                    : cdof_store_cursor_prefix(c->cur, c->prefix, sizeof c->prefix, &k, &v);
    c->started = true;
    if (rc <= 0)
        return rc;
    if (k.len != HUB_DB_POINT_KEY_LEN)
        return CDOF_ECORRUPT;
    if ((rc = hub_db_decode(v.data, v.len, pt, NULL)) != 0)
        return rc;
    memcpy(c->area, (const uint8_t *)k.data + HUB_DB_PREFIX_LEN, HUB_DB_AREA_LEN);
    c->area[HUB_DB_AREA_LEN] = '\0';
    if (area)
        *area = c->area;
    return 1;
}

void hub_db_points_close(hub_db_points_cursor_t **c)
{
    if (!c || !*c)
        return;
    cdof_store_cursor_close(&(*c)->cur);
    free(*c);
    *c = NULL;
}

struct hub_db_points_all_cursor {
    hub_db_t *db;
    cdof_store_txn_t *txn;
    cdof_store_cursor_t *cur;
    bool started;
    uint32_t code; /* of metric below; 0: none yet */
    char metric[HUB_DB_METRIC_MAX + 1];
    char area[HUB_DB_AREA_LEN + 1];
};

int hub_db_points_all_open(hub_db_t *db, cdof_store_txn_t *txn, hub_db_points_all_cursor_t **out)
{
    hub_db_points_all_cursor_t *c;
    int rc;

    if (out)
        *out = NULL;
    if (!db || !txn || !out)
        return -EINVAL;
    if (!(c = calloc(1, sizeof *c)))
        return -ENOMEM;
    c->db = db;
    c->txn = txn;
    if ((rc = cdof_store_cursor_open(txn, db->points, &c->cur)) != 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int hub_db_points_all_next(hub_db_points_all_cursor_t *c, const char **metric_id, const char **area,
                           cdof_period_t *period, hub_point_t *pt)
{
    cdof_bytes_t key, val, name;
    cdof_period_t p;
    const uint8_t *k;
    uint16_t code;
    int rc;

    if (!c || !period || !pt)
        return -EINVAL;
    rc = c->started ? cdof_store_cursor_next(c->cur, &key, &val)
                    : cdof_store_cursor_seek(c->cur, NULL, 0, &key, &val);
    c->started = true;
    if (rc <= 0)
        return rc;
    if (key.len != HUB_DB_POINT_KEY_LEN)
        return CDOF_ECORRUPT;
    k = key.data;
    code = cdof_store_rd16(k + 5);
    if (code != c->code) {
        /* Metric ids change rarely along the walk: look each up once per run. */
        rc = cdof_store_get(c->txn, c->db->names, k + 5, 2, &name);
        if (rc == CDOF_ENOTFOUND || (rc == 0 && (name.len == 0 || name.len > HUB_DB_METRIC_MAX)))
            return CDOF_ECORRUPT;
        if (rc)
            return rc;
        memcpy(c->metric, name.data, name.len);
        c->metric[name.len] = '\0';
        c->code = code;
    }
    if ((rc = hub_db_decode(val.data, val.len, pt, &p.last_day)) != 0)
        return rc;
    p.kind = (cdof_period_kind_t)(k[4] & 7);
    p.first_day = cdof_store_rd_day(k);
    *period = p;
    memcpy(c->area, k + HUB_DB_PREFIX_LEN, HUB_DB_AREA_LEN);
    c->area[HUB_DB_AREA_LEN] = '\0';
    if (metric_id)
        *metric_id = c->metric;
    if (area)
        *area = c->area;
    return 1;
}

void hub_db_points_all_close(hub_db_points_all_cursor_t **c)
{
    if (!c || !*c)
        return;
    cdof_store_cursor_close(&(*c)->cur);
    free(*c);
    *c = NULL;
}

static int hub_db_agent_key(const char *agent_id, size_t *len)
{
    *len = agent_id ? strnlen(agent_id, HUB_DB_AGENT_MAX) : 0;
    return *len == 0 || *len == HUB_DB_AGENT_MAX ? -EINVAL : 0;
}

static int hub_db_agent_decode(const cdof_bytes_t *key, const cdof_bytes_t *val,
                               hub_agent_record_t *out)
{
    const uint8_t *p = val->data;

    if (key->len == 0 || key->len >= HUB_DB_AGENT_MAX)
        return CDOF_ECORRUPT;
    if (val->len < 1)
        return CDOF_ECORRUPT;
    if (p[0] != HUB_DB_POINT_VERSION)
        return CDOF_EVERSION;
    if (val->len != HUB_DB_AGENT_LEN)
        return CDOF_ECORRUPT;
    memcpy(out->agent_id, key->data, key->len);
    out->agent_id[key->len] = '\0';
    out->high_water = cdof_store_rd64(p + 1);
    out->last_heard_ms = (int64_t)cdof_store_rd64(p + 9);
    out->outbox_depth = cdof_store_rd64(p + 17);
    out->oldest_unacked_ms = cdof_store_rd64(p + 25);
    return 0;
}

int hub_db_agent_get(hub_db_t *db, cdof_store_txn_t *txn, const char *agent_id,
                     hub_agent_record_t *out)
{
    cdof_bytes_t k, v;
    size_t len;
    int rc;

    if (!db || !txn || !out || hub_db_agent_key(agent_id, &len) != 0)
        return -EINVAL;
    if ((rc = cdof_store_get(txn, db->agents, agent_id, len, &v)) != 0)
        return rc;
    k = (cdof_bytes_t){agent_id, len};
    return hub_db_agent_decode(&k, &v, out);
}

int hub_db_agent_put(hub_db_t *db, cdof_store_txn_t *txn, const hub_agent_record_t *rec)
{
    uint8_t v[HUB_DB_AGENT_LEN];
    size_t len;

    if (!db || !txn || !rec || hub_db_agent_key(rec->agent_id, &len) != 0)
        return -EINVAL;
    v[0] = HUB_DB_POINT_VERSION;
    cdof_store_be64(v + 1, rec->high_water);
    cdof_store_be64(v + 9, (uint64_t)rec->last_heard_ms);
    cdof_store_be64(v + 17, rec->outbox_depth);
    cdof_store_be64(v + 25, rec->oldest_unacked_ms);
    return cdof_store_put(txn, db->agents, rec->agent_id, len, v, sizeof v);
}

struct hub_db_agents_cursor {
    cdof_store_cursor_t *cur;
    bool started;
};

int hub_db_agents_open(hub_db_t *db, cdof_store_txn_t *txn, hub_db_agents_cursor_t **out)
{
    hub_db_agents_cursor_t *c;
    int rc;

    if (out)
        *out = NULL;
    if (!db || !txn || !out)
        return -EINVAL;
    if (!(c = calloc(1, sizeof *c)))
        return -ENOMEM;
    if ((rc = cdof_store_cursor_open(txn, db->agents, &c->cur)) != 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int hub_db_agents_next(hub_db_agents_cursor_t *c, hub_agent_record_t *rec)
{
    cdof_bytes_t k, v;
    int rc;

    if (!c || !rec)
        return -EINVAL;
    rc = c->started ? cdof_store_cursor_next(c->cur, &k, &v)
                    : cdof_store_cursor_seek(c->cur, NULL, 0, &k, &v);
    c->started = true;
    if (rc <= 0)
        return rc;
    memset(rec, 0, sizeof *rec);
    return (rc = hub_db_agent_decode(&k, &v, rec)) != 0 ? rc : 1;
}

void hub_db_agents_close(hub_db_agents_cursor_t **c)
{
    if (!c || !*c)
        return;
    cdof_store_cursor_close(&(*c)->cur);
    free(*c);
    *c = NULL;
}

/* ---- key codecs of the hub's other databases (layouts in hub_db.h) ---- */

void hub_period_put(uint8_t *k, const cdof_period_t *p)
{
    cdof_store_be_day(k, p->first_day);
    k[4] = (uint8_t)p->kind;
    cdof_store_be_day(k + 5, p->last_day);
}

size_t hub_period_key(const cdof_metric_t *m, const cdof_period_t *p, uint8_t *key)
{
    size_t idlen = strlen(m->id);
    memcpy(key, m->id, idlen + 1);
    hub_period_put(key + idlen + 1, p);
    return idlen + 1 + HUB_PERIOD_KEY_LEN;
}

size_t hub_milestone_key(const char *partnership, const char *milestone, int32_t day, bool with_day,
                         uint8_t *key)
{
    size_t a = strlen(partnership), c = strlen(milestone);
    if (a > CDOF_WIRE_MAX_ID || c > CDOF_WIRE_MAX_ID)
        return 0;
    memcpy(key, partnership, a + 1);
    memcpy(key + a + 1, milestone, c + 1);
    if (!with_day)
        return a + c + 2;
    cdof_store_be_day(key + a + c + 2, day);
    return a + c + 6;
}

int hub_milestone_from_key(const void *key, size_t len, hub_milestone_key_t *out)
{
    const char *k = key;
    size_t a = strnlen(k, len);
    if (a + 1 >= len || a > CDOF_WIRE_MAX_ID)
        return CDOF_ECORRUPT;
    size_t c = strnlen(k + a + 1, len - a - 1);
    if (a + c + 6 != len || c > CDOF_WIRE_MAX_ID)
        return CDOF_ECORRUPT;
    *out = (hub_milestone_key_t){.partnership = k,
                                 .milestone = k + a + 1,
                                 .day = cdof_store_rd_day((const uint8_t *)k + a + c + 2)};
    return 0;
}

cdof_period_t hub_period_from_key(const uint8_t *k)
{
    return (cdof_period_t){.kind = (cdof_period_kind_t)k[4],
                           .first_day = cdof_store_rd_day(k),
                           .last_day = cdof_store_rd_day(k + 5)};
}

size_t hub_rejection_key(const char *agent, uint64_t seq, uint8_t *key)
{
    size_t n = strnlen(agent, HUB_DB_AGENT_MAX + 1);
    if (n > HUB_DB_AGENT_MAX)
        return 0;
    memcpy(key, agent, n + 1);
    cdof_store_be64(key + n + 1, seq);
    return n + 9;
}

size_t hub_rejection_value(const char *reason, int64_t rejected_ms, const char *partnership,
                           uint8_t *val)
{
    size_t rn = strnlen(reason, CDOF_WIRE_MAX_TEXT - 1);
    size_t pn = partnership ? strnlen(partnership, HUB_DB_AGENT_MAX) : 0;
    memcpy(val, reason, rn);
    val[rn] = 0;
    cdof_store_be64(val + rn + 1, (uint64_t)rejected_ms);
    if (pn)
        memcpy(val + rn + 9, partnership, pn);
    return rn + 9 + pn;
}

int hub_rejection_from_record(const cdof_bytes_t *key, const cdof_bytes_t *val,
                              hub_rejection_t *out)
{
    const char *k = key->data, *v = val->data;
    size_t an = strnlen(k, key->len), rn = strnlen(v, val->len);
    if (an + 9 != key->len)
        return CDOF_ECORRUPT;
    *out = (hub_rejection_t){.agent_id = k,
                             .agent_len = an,
                             .sequence = cdof_store_rd64((const uint8_t *)k + an + 1),
                             .reason = v,
                             .reason_len = rn,
                             .partnership = ""};
    if (rn + 9 <= val->len) {
        out->rejected_ms = (int64_t)cdof_store_rd64((const uint8_t *)v + rn + 1);
        out->partnership = v + rn + 9;
        out->partnership_len = val->len - rn - 9;
    }
    return 0;
}

/* ---- stored comparisons ---- */

enum {
    HUB_RESULT_F_SUBMITTED = 1,
    HUB_RESULT_F_NUM = 2,
    HUB_RESULT_F_DEN = 4,
    HUB_RESULT_F_VALUE = 8,
    HUB_RESULT_F_INTERVAL = 16,
    HUB_RESULT_F_WAGW = 32,
    HUB_RESULT_F_BETTER = 64,
    HUB_RESULT_F_WORSE = 128,
    HUB_RESULT_F_BASELINE = 256,
    HUB_RESULT_F_TRAJECTORY = 512,
    HUB_RESULT_F_PROVISIONAL = 1024,
    HUB_RESULT_F_ENGLAND_PROVISIONAL = 2048,
    HUB_RESULT_F_REGION_PROVISIONAL = 4096
};
#define HUB_RESULT_NF64 14

size_t hub_result_key(const char *metric_id, uint8_t basis, const cdof_period_t *p,
                      const char *code, uint8_t *key)
{
    size_t idlen = strnlen(metric_id, HUB_DB_METRIC_MAX + 1);
    size_t clen = code ? strnlen(code, HUB_RESULT_CODE_MAX) : 0;
    if (idlen > HUB_DB_METRIC_MAX || clen >= HUB_RESULT_CODE_MAX)
        return 0;
    memcpy(key, metric_id, idlen + 1);
    key[idlen + 1] = basis;
    hub_period_put(key + idlen + 2, p);
    if (clen)
        memcpy(key + idlen + 2 + HUB_PERIOD_KEY_LEN, code, clen);
    return idlen + 2 + HUB_PERIOD_KEY_LEN + clen;
}

int hub_result_from_key(const void *key, size_t len, hub_result_key_t *out)
{
    const uint8_t *k = key;
    size_t idlen = strnlen((const char *)k, len);
    if (idlen == 0 || idlen + 2 + HUB_PERIOD_KEY_LEN > len)
        return CDOF_ECORRUPT; /* the fingerprint key starts with NUL */
    out->metric_id = (const char *)k;
    out->metric_len = idlen;
    out->basis = k[idlen + 1];
    out->period = hub_period_from_key(k + idlen + 2);
    out->code = (const char *)k + idlen + 2 + HUB_PERIOD_KEY_LEN;
    out->code_len = len - idlen - 2 - HUB_PERIOD_KEY_LEN;
    return 0;
}

/* The row's f64 fields in their stored order: one list for encoding and decoding. */
static void hub_result_f64s(cdof_compare_row_t *r, double *d[HUB_RESULT_NF64])
{
    double *f[HUB_RESULT_NF64] = {&r->fig.numerator,  &r->fig.denominator, &r->fig.value,
                                  &r->ci95.lower,     &r->ci95.upper,      &r->ci998.lower,
                                  &r->ci998.upper,    &r->england_value,   &r->region_value,
                                  &r->trend.slope,    &r->trend.se,        &r->trend.chi2,
                                  &r->baseline_value, &r->trajectory_value};
    memcpy(d, f, sizeof f);
}

size_t hub_result_value(const cdof_compare_row_t *r, uint8_t *val)
{
    uint16_t f = (uint16_t)((r->submitted ? HUB_RESULT_F_SUBMITTED : 0) |
                            (r->fig.has_numerator ? HUB_RESULT_F_NUM : 0) |
                            (r->fig.has_denominator ? HUB_RESULT_F_DEN : 0) |
                            (r->fig.has_value ? HUB_RESULT_F_VALUE : 0) |
                            (r->has_interval ? HUB_RESULT_F_INTERVAL : 0) |
                            (r->worse_and_getting_worse ? HUB_RESULT_F_WAGW : 0) |
                            (r->trend.getting_better ? HUB_RESULT_F_BETTER : 0) |
                            (r->trend.getting_worse ? HUB_RESULT_F_WORSE : 0) |
                            (r->has_baseline ? HUB_RESULT_F_BASELINE : 0) |
                            (r->has_trajectory ? HUB_RESULT_F_TRAJECTORY : 0) |
                            (r->provisional ? HUB_RESULT_F_PROVISIONAL : 0) |
                            (r->england_provisional ? HUB_RESULT_F_ENGLAND_PROVISIONAL : 0) |
                            (r->region_provisional ? HUB_RESULT_F_REGION_PROVISIONAL : 0));
    uint8_t *b = val;
    *b++ = HUB_RESULT_VERSION;
    cdof_store_be16(b, f);
    b += 2;
    *b++ = (uint8_t)r->vs_england;
    *b++ = (uint8_t)r->vs_region;
    *b++ = (uint8_t)r->quintile;
    *b++ = (uint8_t)r->trend.direction;
    *b++ = (uint8_t)r->vs_baseline;
    *b++ = (uint8_t)r->vs_trajectory;
    cdof_compare_row_t copy = *r; /* the one field list, read only */
    double *d[HUB_RESULT_NF64];
    hub_result_f64s(&copy, d);
    for (int i = 0; i < HUB_RESULT_NF64; i++, b += 8)
        cdof_store_be64(b, hub_db_f64_bits(*d[i]));
    cdof_store_be64(b, (uint64_t)r->received_ms);
    cdof_store_be32(b + 8, r->reported);
    cdof_store_be32(b + 12, r->expected);
    b += 16;
    size_t plen = r->partnership ? strlen(r->partnership) : 0;
    if (plen >= HUB_RESULT_CODE_MAX)
        plen = 0;
    *b++ = (uint8_t)plen;
    memcpy(b, r->partnership, plen);
    return (size_t)(b - val) + plen;
}

int hub_result_from_value(const cdof_bytes_t *val, cdof_compare_row_t *r, const char **partnership,
                          size_t *plen)
{
    const uint8_t *b = val->data;
    if (val->len < HUB_RESULT_VALUE_MAX - HUB_RESULT_CODE_MAX)
        return CDOF_ECORRUPT;
    if (b[0] != HUB_RESULT_VERSION)
        return CDOF_EVERSION;
    memset(r, 0, sizeof *r);
    uint16_t f = cdof_store_rd16(b + 1);
    r->submitted = f & HUB_RESULT_F_SUBMITTED;
    r->fig.has_numerator = f & HUB_RESULT_F_NUM;
    r->fig.has_denominator = f & HUB_RESULT_F_DEN;
    r->fig.has_value = f & HUB_RESULT_F_VALUE;
    r->has_interval = f & HUB_RESULT_F_INTERVAL;
    r->worse_and_getting_worse = f & HUB_RESULT_F_WAGW;
    r->trend.getting_better = f & HUB_RESULT_F_BETTER;
    r->trend.getting_worse = f & HUB_RESULT_F_WORSE;
    r->has_baseline = f & HUB_RESULT_F_BASELINE;
    r->has_trajectory = f & HUB_RESULT_F_TRAJECTORY;
    r->provisional = f & HUB_RESULT_F_PROVISIONAL;
    r->england_provisional = f & HUB_RESULT_F_ENGLAND_PROVISIONAL;
    r->region_provisional = f & HUB_RESULT_F_REGION_PROVISIONAL;
    r->vs_england = (cdof_verdict_t)b[3];
    r->vs_region = (cdof_verdict_t)b[4];
    r->quintile = b[5];
    r->trend.direction = (cdof_trend_t)b[6];
    r->vs_baseline = (cdof_verdict_t)b[7];
    r->vs_trajectory = (cdof_verdict_t)b[8];
    b += 9;
    double *d[HUB_RESULT_NF64];
    hub_result_f64s(r, d);
    for (int i = 0; i < HUB_RESULT_NF64; i++, b += 8)
        *d[i] = hub_db_bits_f64(cdof_store_rd64(b));
    r->received_ms = (int64_t)cdof_store_rd64(b);
    r->reported = cdof_store_rd32(b + 8);
    r->expected = cdof_store_rd32(b + 12);
    b += 16;
    size_t n = *b++;
    if ((size_t)(b - (const uint8_t *)val->data) + n > val->len)
        return CDOF_ECORRUPT;
    *partnership = (const char *)b;
    *plen = n;
    return 0;
}
