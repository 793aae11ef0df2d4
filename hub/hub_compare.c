/* The hub's stored points and rows in the comparison module's terms (hub_compare.h). */
#include <errno.h>
#include <stdlib.h>

#include "cdof_compare.h"
#include "cdof_grow.h"
#include "hub.h"
#include "hub_compare.h"
#include "hub_db.h"
#include "hub_results.h"

cdof_compare_input_t hub_compare_input(const cdof_area_t *area, const hub_point_t *pt)
{
    return (cdof_compare_input_t){.area = area, .fig = pt->fig, .received_ms = pt->received_ms};
}

/* The stored rows (settling brings them up to date in the transaction that then judges them,
 * before the alert rules run): alert rules judge exactly what queries show, without recomputing. */
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
