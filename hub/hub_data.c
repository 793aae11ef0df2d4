/* The hub's own indexes over the national store: which periods each metric has, and loading a
 * metric and period into the comparison module. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_compare.h"
#include "cdof_error.h"
#include "hub.h"

#define PERIOD_KEY_LEN 9

size_t hub_period_key(const cdof_metric_t *m, const cdof_period_t *p, uint8_t *key)
{
    size_t idlen = strlen(m->id);
    memcpy(key, m->id, idlen + 1);
    cdof_store_be32(key + idlen + 1, (uint32_t)((int64_t)p->first_day + 0x80000000LL));
    key[idlen + 5] = (uint8_t)p->kind;
    cdof_store_be32(key + idlen + 6, (uint32_t)((int64_t)p->last_day + 0x80000000LL));
    return idlen + 1 + PERIOD_KEY_LEN;
}

int hub_periods_note(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p)
{
    uint8_t key[256];
    size_t klen = hub_period_key(m, p, key);
    return cdof_store_put(txn, hub->db_periods, key, klen, "", 0);
}

cdof_period_t hub_period_from_key(const void *key, size_t len)
{
    const uint8_t *k = (const uint8_t *)key + len - PERIOD_KEY_LEN;
    return (cdof_period_t){.kind = (cdof_period_kind_t)k[4],
                           .first_day = (int32_t)((int64_t)cdof_store_rd32(k) - 0x80000000LL),
                           .last_day = (int32_t)((int64_t)cdof_store_rd32(k + 5) - 0x80000000LL)};
}

typedef struct {
    cdof_period_t *items;
    size_t n, cap;
} period_list_t;

static int collect_period(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    (void)val;
    period_list_t *l = ctx;
    if (key->len < PERIOD_KEY_LEN)
        return CDOF_ECORRUPT;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        cdof_period_t *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return -ENOMEM;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = hub_period_from_key(key->data, key->len);
    return 0;
}

int hub_periods_scan(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, bool newest_first,
                     hub_period_visit_fn visit, void *ctx)
{
    period_list_t l = {0};
    size_t idlen = strlen(m->id);
    int rc = cdof_store_scan_prefix(txn, hub->db_periods, m->id, idlen + 1, collect_period, &l);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        rc = visit(ctx, &l.items[newest_first ? l.n - 1 - i : i]);
        if (rc > 0) {
            rc = 0;
            break;
        }
    }
    free(l.items);
    return rc;
}

cdof_compare_input_t hub_point_input(const cdof_area_t *area, const cdof_point_t *pt)
{
    return (cdof_compare_input_t){.area = area,
                                  .has_numerator = pt->has_numerator,
                                  .numerator = pt->numerator,
                                  .has_denominator = pt->has_denominator,
                                  .denominator = pt->denominator,
                                  .has_value = pt->has_value,
                                  .value = pt->value,
                                  .received_ms = pt->received_ms};
}

typedef struct {
    hub_t *hub;
    cdof_compare_input_t *in;
    size_t n, cap;
} load_ctx_t;

static int collect_point(void *ctx, const char *area_code, const cdof_point_t *pt)
{
    load_ctx_t *lc = ctx;
    const cdof_area_t *area = cdof_ref_area(lc->hub->ref, area_code);
    if (!area)
        return 0; /* an area since removed from the reference data: kept, not compared */
    if (lc->n == lc->cap) {
        size_t cap = lc->cap ? lc->cap * 2 : 256;
        cdof_compare_input_t *in = realloc(lc->in, cap * sizeof *in);
        if (!in)
            return -ENOMEM;
        lc->in = in;
        lc->cap = cap;
    }
    lc->in[lc->n++] = hub_point_input(area, pt);
    return 0;
}

int hub_compare_load(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p, cdof_compare_t **out)
{
    load_ctx_t lc = {.hub = hub};
    int rc = cdof_points_scan(hub->pts, txn, m->id, p, collect_point, &lc);
    if (rc == CDOF_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        *out = cdof_compare_run(hub->ref, m, lc.in, lc.n);
        if (!*out)
            rc = -ENOMEM;
    }
    free(lc.in);
    return rc;
}
