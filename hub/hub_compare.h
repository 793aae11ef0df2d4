/* The hub's stored points and rows in the comparison module's terms (cdof_compare.h): a stored
 * point as a comparison input, a metric-period's stored rows as a comparison. Queries and the
 * alert rules' findings read comparisons through it. */
#ifndef CDOF_HUB_COMPARE_H
#define CDOF_HUB_COMPARE_H

#include "cdof_compare.h"
#include "cdof_period.h"
#include "cdof_ref.h"
#include "cdof_store.h"
#include "hub.h"
#include "hub_db.h"

/* A stored point as input to the comparison module. */
cdof_compare_input_t hub_compare_input(const cdof_area_t *area, const hub_point_t *pt);

/* Loads the stored comparison rows (as reported, hub_results.h) for metric m and period p (read
 * txn): fills *out (caller destroys). Returns 0 or a negative code. */
int hub_compare_load(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p, cdof_compare_t **out);

#endif
