/* The hub's own indexes over the national store: which periods each metric has, and loading a
 * metric and period into the comparison module. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_compare.h"
#include "cdof_error.h"
#include "hub.h"

int hub_periods_note(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p)
{
    uint8_t key[HUB_PERIOD_KEY_MAX]; /* metric ids are at most 63 bytes (cdof_ref) */
    size_t klen = hub_period_key(m, p, key);
    /* Mostly there already: a read leaves the page clean, where a put would copy it into the
     * commit. */
    cdof_bytes_t v;
    int rc = cdof_store_get(txn, hub_db_periods(hub->db), key, klen, &v);
    return rc == CDOF_ENOTFOUND ? cdof_store_put(txn, hub_db_periods(hub->db), key, klen, "", 0)
                                : rc;
}

int hub_periods_list(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, cdof_period_t **out,
                     size_t *n)
{
    cdof_period_t *items = NULL;
    size_t count = 0, cap = 0, plen = strlen(m->id) + 1;
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t key;
    int rc = cdof_store_cursor_open(txn, hub_db_periods(hub->db), &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_prefix(c, m->id, plen, &key, NULL); rc > 0;
         rc = cdof_store_cursor_next(c, &key, NULL)) {
        if (key.len != plen + HUB_PERIOD_KEY_LEN) {
            rc = CDOF_ECORRUPT;
            break;
        }
        cdof_period_t *grown = cdof_grow(items, count, &cap, 64, sizeof *items);
        if (!grown) {
            rc = -ENOMEM;
            break;
        }
        items = grown;
        items[count++] = hub_period_from_key((const uint8_t *)key.data + plen);
    }
    cdof_store_cursor_close(&c);
    if (rc < 0) {
        free(items);
        items = NULL;
        count = 0;
    }
    *out = items;
    *n = count;
    return rc < 0 ? rc : 0;
}

cdof_compare_input_t hub_point_input(const cdof_area_t *area, const hub_point_t *pt)
{
    return (cdof_compare_input_t){.area = area, .fig = pt->fig, .received_ms = pt->received_ms};
}

/* The stored rows (hub_results keeps them current within the ingest transaction, before the
 * alert rules run): alert rules judge exactly what queries show, without recomputing. */
int hub_compare_load(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p, cdof_compare_t **out)
{
    cdof_compare_row_t *rows = NULL, r;
    size_t n = 0, cap = 0;
    hub_results_rows_t *c;
    int rc = hub_results_rows_open(hub, txn, m, p, HUB_BASIS_REPORTED, &c);
    while (rc == 0 && (rc = hub_results_rows_next(c, &r)) > 0) {
        cdof_compare_row_t *more = cdof_grow(rows, n, &cap, 64, sizeof *rows);
        rc = more ? 0 : -ENOMEM;
        if (more) {
            rows = more;
            rows[n++] = r;
        }
    }
    hub_results_rows_close(&c);
    if (rc == 0)
        rc = cdof_compare_from_rows(rows, n, out);
    free(rows);
    return rc;
}
