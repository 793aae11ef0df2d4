/* Metric points over the store. Key layout and value encoding: see cdof_points.h. */
#include "cdof_points.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_error.h"

#define CDOF_POINTS_VERSION   1
#define CDOF_POINTS_F_NUM     0x01
#define CDOF_POINTS_F_DEN     0x02
#define CDOF_POINTS_F_VAL     0x04
#define CDOF_POINTS_FIXED_LEN 46 /* version .. last_day */
#define CDOF_POINTS_VALUE_MAX                                                                      \
    (CDOF_POINTS_FIXED_LEN + 1 + (CDOF_POINTS_AGENT_MAX - 1) + 2 + (CDOF_POINTS_NOTE_MAX - 1))
#define CDOF_POINTS_PREFIX_LEN 7 /* period and metric: one scan's worth */
#define CDOF_POINTS_HKEY_LEN   (CDOF_POINTS_KEY_LEN + 8)
#define CDOF_POINTS_AGENT_LEN  33 /* version, four u64 */
#define CDOF_POINTS_MS_BIAS    ((uint64_t)1 << 63)

struct cdof_points {
    cdof_store_t *store;
    cdof_store_db_t points, history, codes, names, agents;
};

int cdof_points_new(cdof_store_t *store, cdof_points_t **out)
{
    cdof_points_t *p;
    int rc;

    if (out)
        *out = NULL;
    if (!store || !out)
        return -EINVAL;
    p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->store = store;
    if ((rc = cdof_store_db(store, "points", &p->points)) != 0 ||
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

void cdof_points_destroy(cdof_points_t **points)
{
    if (!points)
        return;
    free(*points);
    *points = NULL;
}

static uint64_t cdof_points_f64_bits(double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof u);
    return u;
}

static double cdof_points_bits_f64(uint64_t u)
{
    double d;

    memcpy(&d, &u, sizeof d);
    return d;
}

static int cdof_points_kind_byte(const cdof_period_t *p, uint8_t *out)
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

static bool cdof_points_area_ok(const char *area)
{
    if (!area || strnlen(area, CDOF_POINTS_AREA_LEN + 1) != CDOF_POINTS_AREA_LEN)
        return false;
    for (int i = 0; i < CDOF_POINTS_AREA_LEN; i++) {
        if (area[i] < '!' || area[i] > '~')
            return false;
    }
    return true;
}

/* Everything but the metric code, which callers fill once they have it. */
static int cdof_points_key(const char *area, const cdof_period_t *period,
                           uint8_t key[CDOF_POINTS_KEY_LEN])
{
    uint8_t kind;
    int rc;

    if (!cdof_points_area_ok(area))
        return -EINVAL;
    if ((rc = cdof_points_kind_byte(period, &kind)) != 0)
        return rc;
    cdof_store_be_day(key, period->first_day);
    key[4] = kind;
    cdof_store_be16(key + 5, 0);
    memcpy(key + 7, area, CDOF_POINTS_AREA_LEN);
    return 0;
}

static int cdof_points_encode(const cdof_point_t *pt, int32_t last_day,
                              uint8_t buf[CDOF_POINTS_VALUE_MAX], size_t *len)
{
    size_t alen = strnlen(pt->agent_id, CDOF_POINTS_AGENT_MAX);
    size_t nlen = strnlen(pt->note, CDOF_POINTS_NOTE_MAX);
    uint8_t *p = buf;

    if (alen == CDOF_POINTS_AGENT_MAX || nlen == CDOF_POINTS_NOTE_MAX)
        return -EINVAL;
    *p++ = CDOF_POINTS_VERSION;
    *p++ = (uint8_t)((pt->has_numerator ? CDOF_POINTS_F_NUM : 0) |
                     (pt->has_denominator ? CDOF_POINTS_F_DEN : 0) |
                     (pt->has_value ? CDOF_POINTS_F_VAL : 0));
    cdof_store_be64(p, cdof_points_f64_bits(pt->numerator));
    cdof_store_be64(p + 8, cdof_points_f64_bits(pt->denominator));
    cdof_store_be64(p + 16, cdof_points_f64_bits(pt->value));
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

static int cdof_points_decode(const void *data, size_t len, cdof_point_t *out, int32_t *last_day)
{
    const uint8_t *p = data;
    size_t alen, nlen;

    if (len < 1)
        return CDOF_ECORRUPT;
    if (p[0] != CDOF_POINTS_VERSION)
        return CDOF_EVERSION;
    if (len < CDOF_POINTS_FIXED_LEN + 1 + 2 ||
        (p[1] & ~(CDOF_POINTS_F_NUM | CDOF_POINTS_F_DEN | CDOF_POINTS_F_VAL)) != 0)
        return CDOF_ECORRUPT;
    alen = p[CDOF_POINTS_FIXED_LEN];
    if (alen >= CDOF_POINTS_AGENT_MAX || len < CDOF_POINTS_FIXED_LEN + 1 + alen + 2)
        return CDOF_ECORRUPT;
    nlen = cdof_store_rd16(p + CDOF_POINTS_FIXED_LEN + 1 + alen);
    if (nlen >= CDOF_POINTS_NOTE_MAX || len != CDOF_POINTS_FIXED_LEN + 1 + alen + 2 + nlen)
        return CDOF_ECORRUPT;

    out->has_numerator = p[1] & CDOF_POINTS_F_NUM;
    out->has_denominator = p[1] & CDOF_POINTS_F_DEN;
    out->has_value = p[1] & CDOF_POINTS_F_VAL;
    out->numerator = cdof_points_bits_f64(cdof_store_rd64(p + 2));
    out->denominator = cdof_points_bits_f64(cdof_store_rd64(p + 10));
    out->value = cdof_points_bits_f64(cdof_store_rd64(p + 18));
    out->received_ms = (int64_t)cdof_store_rd64(p + 26);
    out->sequence = cdof_store_rd64(p + 34);
    if (last_day)
        *last_day = (int32_t)cdof_store_rd32(p + 42);
    memcpy(out->agent_id, p + CDOF_POINTS_FIXED_LEN + 1, alen);
    out->agent_id[alen] = '\0';
    memcpy(out->note, p + CDOF_POINTS_FIXED_LEN + 1 + alen + 2, nlen);
    out->note[nlen] = '\0';
    return 0;
}

static int cdof_points_code(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                            bool create, uint16_t *out)
{
    cdof_bytes_t k, v;
    uint8_t code[2];
    size_t len;
    uint32_t next;
    int rc;

    len = metric_id ? strnlen(metric_id, CDOF_POINTS_METRIC_MAX + 1) : 0;
    if (len == 0 || len > CDOF_POINTS_METRIC_MAX)
        return -EINVAL;
    rc = cdof_store_get(txn, pts->codes, metric_id, len, &v);
    if (rc == 0) {
        if (v.len != 2)
            return CDOF_ECORRUPT;
        *out = cdof_store_rd16(v.data);
        return 0;
    }
    if (rc != CDOF_ENOTFOUND || !create)
        return rc;

    /* Codes are handed out in order, so the next is one past the greatest. */
    rc = cdof_store_last(txn, pts->names, &k, &v);
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
    if ((rc = cdof_store_put(txn, pts->codes, metric_id, len, code, 2)) != 0 ||
        (rc = cdof_store_put(txn, pts->names, code, 2, metric_id, len)) != 0)
        return rc;
    *out = (uint16_t)next;
    return 0;
}

int cdof_points_metric_code(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                            uint16_t *out)
{
    if (!pts || !txn || !out)
        return -EINVAL;
    return cdof_points_code(pts, txn, metric_id, false, out);
}

int cdof_points_put(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                    const char *area_code, const cdof_period_t *period, const cdof_point_t *pt)
{
    uint16_t code = 0;

    return cdof_points_put_memo(pts, txn, metric_id, &code, area_code, period, pt);
}

int cdof_points_put_memo(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                         uint16_t *code, const char *area_code, const cdof_period_t *period,
                         const cdof_point_t *pt)
{
    uint8_t key[CDOF_POINTS_KEY_LEN], hkey[CDOF_POINTS_HKEY_LEN];
    uint8_t val[CDOF_POINTS_VALUE_MAX], old[CDOF_POINTS_VALUE_MAX];
    cdof_point_t prev;
    size_t vlen, olen;
    int rc;

    if (!pts || !txn || !pt || !code)
        return -EINVAL;
    /* Check everything before interning, so a bad row leaves no trace. */
    if ((rc = cdof_points_key(area_code, period, key)) != 0 ||
        (rc = cdof_points_encode(pt, period->last_day, val, &vlen)) != 0)
        return rc;
    /* Codes start at 1: 0 is "not looked up yet", and the look-up is an LMDB get per point. */
    if (*code == 0 && (rc = cdof_points_code(pts, txn, metric_id, true, code)) != 0)
        return rc;
    cdof_store_be16(key + 5, *code);

    /* The new value goes in as the old comes out: a corrupt old value fails the put after the
     * write, and the caller aborts the transaction. */
    rc = cdof_store_swap(txn, pts->points, key, sizeof key, val, vlen, old, sizeof old, &olen);
    if (rc <= 0)
        return rc == -ENOBUFS ? CDOF_ECORRUPT : rc;
    if ((rc = cdof_points_decode(old, olen, &prev, NULL)) != 0)
        return rc;
    memcpy(hkey, key, sizeof key);
    cdof_store_be64(hkey + sizeof key, (uint64_t)prev.received_ms ^ CDOF_POINTS_MS_BIAS);
    return cdof_store_put(txn, pts->history, hkey, sizeof hkey, old, olen);
}

/* The full key of an existing metric, or CDOF_ENOTFOUND. */
static int cdof_points_lookup_key(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                                  const char *area_code, const cdof_period_t *period,
                                  uint8_t key[CDOF_POINTS_KEY_LEN])
{
    uint16_t code;
    int rc;

    if ((rc = cdof_points_key(area_code, period, key)) != 0 ||
        (rc = cdof_points_code(pts, txn, metric_id, false, &code)) != 0)
        return rc;
    cdof_store_be16(key + 5, code);
    return 0;
}

int cdof_points_get(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                    const char *area_code, const cdof_period_t *period, cdof_point_t *out)
{
    uint8_t key[CDOF_POINTS_KEY_LEN];
    cdof_bytes_t v;
    int rc;

    if (!pts || !txn || !out)
        return -EINVAL;
    if ((rc = cdof_points_lookup_key(pts, txn, metric_id, area_code, period, key)) != 0 ||
        (rc = cdof_store_get(txn, pts->points, key, sizeof key, &v)) != 0)
        return rc;
    return cdof_points_decode(v.data, v.len, out, NULL);
}

typedef struct {
    int64_t as_at;
    bool found;
    int64_t ms;
    size_t len;
    uint8_t val[CDOF_POINTS_VALUE_MAX];
} cdof_points_asat_t;

static int cdof_points_asat_visit(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    cdof_points_asat_t *a = ctx;
    int64_t ms;

    if (key->len != CDOF_POINTS_HKEY_LEN || val->len > sizeof a->val)
        return CDOF_ECORRUPT;
    ms = (int64_t)(cdof_store_rd64((const uint8_t *)key->data + CDOF_POINTS_KEY_LEN) ^
                   CDOF_POINTS_MS_BIAS);
    if (ms > a->as_at)
        return 1; /* history is in received order: nothing later can qualify */
    a->found = true;
    a->ms = ms;
    a->len = val->len;
    memcpy(a->val, val->data, val->len);
    return 0;
}

int cdof_points_get_as_at(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                          const char *area_code, const cdof_period_t *period, int64_t as_at_ms,
                          cdof_point_t *out)
{
    uint8_t key[CDOF_POINTS_KEY_LEN];
    cdof_points_asat_t *a = NULL;
    cdof_point_t *cur = NULL;
    bool cur_ok = false;
    cdof_bytes_t v;
    int rc;

    if (!pts || !txn || !out)
        return -EINVAL;
    if ((rc = cdof_points_lookup_key(pts, txn, metric_id, area_code, period, key)) != 0)
        return rc;
    a = calloc(1, sizeof *a);
    cur = calloc(1, sizeof *cur);
    if (!a || !cur) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = cdof_store_get(txn, pts->points, key, sizeof key, &v);
    if (rc == 0) {
        if ((rc = cdof_points_decode(v.data, v.len, cur, NULL)) != 0)
            goto fail;
        cur_ok = cur->received_ms <= as_at_ms;
    } else if (rc != CDOF_ENOTFOUND) {
        goto fail;
    }
    /* The newest revision received by as_at wins; the current one wins a tie, being later. */
    a->as_at = as_at_ms;
    rc = cdof_store_scan_prefix(txn, pts->history, key, sizeof key, cdof_points_asat_visit, a);
    if (rc != 0)
        goto fail;
    if (a->found && (!cur_ok || a->ms > cur->received_ms))
        rc = cdof_points_decode(a->val, a->len, out, NULL);
    else if (cur_ok)
        *out = *cur;
    else
        rc = CDOF_ENOTFOUND;
fail:
    free(cur);
    free(a);
    return rc;
}

typedef struct {
    cdof_points_visit_fn visit;
    void *ctx;
    cdof_point_t pt;
} cdof_points_scan_t;

static int cdof_points_scan_visit(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    cdof_points_scan_t *s = ctx;
    char area[CDOF_POINTS_AREA_LEN + 1];
    int rc;

    if (key->len != CDOF_POINTS_KEY_LEN)
        return CDOF_ECORRUPT;
    if ((rc = cdof_points_decode(val->data, val->len, &s->pt, NULL)) != 0)
        return rc;
    memcpy(area, (const uint8_t *)key->data + CDOF_POINTS_PREFIX_LEN, CDOF_POINTS_AREA_LEN);
    area[CDOF_POINTS_AREA_LEN] = '\0';
    return s->visit(s->ctx, area, &s->pt);
}

int cdof_points_scan(cdof_points_t *pts, cdof_store_txn_t *txn, const char *metric_id,
                     const cdof_period_t *period, cdof_points_visit_fn visit, void *ctx)
{
    uint8_t key[CDOF_POINTS_KEY_LEN];
    cdof_points_scan_t *s;
    int rc;

    if (!pts || !txn || !visit)
        return -EINVAL;
    /* Any well-formed area will do: only the period and metric prefix is used. */
    rc = cdof_points_lookup_key(pts, txn, metric_id, "E00000000", period, key);
    if (rc == CDOF_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (!(s = calloc(1, sizeof *s)))
        return -ENOMEM;
    s->visit = visit;
    s->ctx = ctx;
    rc = cdof_store_scan_prefix(txn, pts->points, key, CDOF_POINTS_PREFIX_LEN,
                                cdof_points_scan_visit, s);
    free(s);
    return rc;
}

typedef struct {
    cdof_points_t *pts;
    cdof_store_txn_t *txn;
    cdof_points_visit_all_fn visit;
    void *ctx;
    uint32_t code; /* of metric below; 0: none yet */
    char metric[CDOF_POINTS_METRIC_MAX + 1];
    cdof_point_t pt;
} cdof_points_all_t;

static int cdof_points_all_visit(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    cdof_points_all_t *s = ctx;
    const uint8_t *k = key->data;
    char area[CDOF_POINTS_AREA_LEN + 1];
    cdof_period_t period;
    cdof_bytes_t name;
    uint16_t code;
    int rc;

    if (key->len != CDOF_POINTS_KEY_LEN)
        return CDOF_ECORRUPT;
    code = cdof_store_rd16(k + 5);
    if (code != s->code) {
        /* Metric ids change rarely along the scan: look each up once per run. */
        rc = cdof_store_get(s->txn, s->pts->names, k + 5, 2, &name);
        if (rc == CDOF_ENOTFOUND ||
            (rc == 0 && (name.len == 0 || name.len > CDOF_POINTS_METRIC_MAX)))
            return CDOF_ECORRUPT;
        if (rc)
            return rc;
        memcpy(s->metric, name.data, name.len);
        s->metric[name.len] = '\0';
        s->code = code;
    }
    if ((rc = cdof_points_decode(val->data, val->len, &s->pt, &period.last_day)) != 0)
        return rc;
    period.kind = (cdof_period_kind_t)(k[4] & 7);
    period.first_day = cdof_store_rd_day(k);
    memcpy(area, k + CDOF_POINTS_PREFIX_LEN, CDOF_POINTS_AREA_LEN);
    area[CDOF_POINTS_AREA_LEN] = '\0';
    return s->visit(s->ctx, s->metric, area, &period, &s->pt);
}

int cdof_points_scan_all(cdof_points_t *pts, cdof_store_txn_t *txn, cdof_points_visit_all_fn visit,
                         void *ctx)
{
    cdof_points_all_t *s;
    int rc;

    if (!pts || !txn || !visit)
        return -EINVAL;
    if (!(s = calloc(1, sizeof *s)))
        return -ENOMEM;
    s->pts = pts;
    s->txn = txn;
    s->visit = visit;
    s->ctx = ctx;
    rc = cdof_store_scan(txn, pts->points, NULL, 0, NULL, 0, cdof_points_all_visit, s);
    free(s);
    return rc;
}

static int cdof_points_agent_key(const char *agent_id, size_t *len)
{
    *len = agent_id ? strnlen(agent_id, CDOF_POINTS_AGENT_MAX) : 0;
    return *len == 0 || *len == CDOF_POINTS_AGENT_MAX ? -EINVAL : 0;
}

static int cdof_points_agent_decode(const cdof_bytes_t *key, const cdof_bytes_t *val,
                                    cdof_agent_record_t *out)
{
    const uint8_t *p = val->data;

    if (key->len == 0 || key->len >= CDOF_POINTS_AGENT_MAX)
        return CDOF_ECORRUPT;
    if (val->len < 1)
        return CDOF_ECORRUPT;
    if (p[0] != CDOF_POINTS_VERSION)
        return CDOF_EVERSION;
    if (val->len != CDOF_POINTS_AGENT_LEN)
        return CDOF_ECORRUPT;
    memcpy(out->agent_id, key->data, key->len);
    out->agent_id[key->len] = '\0';
    out->high_water = cdof_store_rd64(p + 1);
    out->last_heard_ms = (int64_t)cdof_store_rd64(p + 9);
    out->outbox_depth = cdof_store_rd64(p + 17);
    out->oldest_unacked_ms = cdof_store_rd64(p + 25);
    return 0;
}

int cdof_points_agent_get(cdof_points_t *pts, cdof_store_txn_t *txn, const char *agent_id,
                          cdof_agent_record_t *out)
{
    cdof_bytes_t k, v;
    size_t len;
    int rc;

    if (!pts || !txn || !out || cdof_points_agent_key(agent_id, &len) != 0)
        return -EINVAL;
    if ((rc = cdof_store_get(txn, pts->agents, agent_id, len, &v)) != 0)
        return rc;
    k = (cdof_bytes_t){agent_id, len};
    return cdof_points_agent_decode(&k, &v, out);
}

int cdof_points_agent_put(cdof_points_t *pts, cdof_store_txn_t *txn, const cdof_agent_record_t *rec)
{
    uint8_t v[CDOF_POINTS_AGENT_LEN];
    size_t len;

    if (!pts || !txn || !rec || cdof_points_agent_key(rec->agent_id, &len) != 0)
        return -EINVAL;
    v[0] = CDOF_POINTS_VERSION;
    cdof_store_be64(v + 1, rec->high_water);
    cdof_store_be64(v + 9, (uint64_t)rec->last_heard_ms);
    cdof_store_be64(v + 17, rec->outbox_depth);
    cdof_store_be64(v + 25, rec->oldest_unacked_ms);
    return cdof_store_put(txn, pts->agents, rec->agent_id, len, v, sizeof v);
}

typedef struct {
    cdof_points_agent_visit_fn visit;
    void *ctx;
} cdof_points_agent_scan_t;

static int cdof_points_agent_visit(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    cdof_points_agent_scan_t *s = ctx;
    cdof_agent_record_t rec;
    int rc;

    memset(&rec, 0, sizeof rec);
    if ((rc = cdof_points_agent_decode(key, val, &rec)) != 0)
        return rc;
    return s->visit(s->ctx, &rec);
}

int cdof_points_agent_scan(cdof_points_t *pts, cdof_store_txn_t *txn,
                           cdof_points_agent_visit_fn visit, void *ctx)
{
    cdof_points_agent_scan_t s = {visit, ctx};

    if (!pts || !txn || !visit)
        return -EINVAL;
    return cdof_store_scan(txn, pts->agents, NULL, 0, NULL, 0, cdof_points_agent_visit, &s);
}
