/* Stored comparisons (hub_results.c, docs/DESIGN.md "Comparisons"). Every comparison row (areas,
 * regions, England, configured partnerships) is stored in the "results" database when its data
 * changes, so queries read rows instead of recomputing. The bases: as reported, and rolling 12
 * months for monthly metrics with intervals (the row's period is the window's last month). Pooled
 * 3-year periods of pooled metrics are built from single calendar years for areas that did not
 * send the pooled figure. */
#ifndef CDOF_HUB_RESULTS_H
#define CDOF_HUB_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdof_compare.h"
#include "cdof_partnerships.h"
#include "cdof_period.h"
#include "cdof_ref.h"
#include "cdof_store.h"
#include "hub.h"

typedef enum { HUB_BASIS_REPORTED = 0, HUB_BASIS_ROLLING_12M = 1 } hub_basis_t;

/* Opens the results database and loads the partnerships file (path may be NULL: every area is
 * its own partnership); counts' trajectories come from hub->commitments (load them first; NULL:
 * none). Then opens the period states (hub_periods_open), since stored rows read them. On failure
 * writes a reason naming file and line into err. Returns 0 or a negative code. */
int hub_results_open(hub_t *hub, const char *partnerships, char *err, size_t errlen);
void hub_results_close(hub_t *hub);

/* Incremental: recomputes and stores what new data for the n touched metrics and periods
 * affects (write txn), each piece once however many touched periods share it: the touched
 * periods themselves, oldest first; the trend of the next four periods for the rows whose
 * figures changed; the rolling windows holding a touched month; the pooled periods built from
 * a touched year; next year's count baselines. */
int hub_results_update(hub_t *hub, cdof_store_txn_t *txn, const hub_touch_t *touched, size_t n);

/* Recomputes and stores the rows of (m, p) as reported, alone (write txn): what judging a period
 * that has just completed needs. What depends on them (later trends, rolling windows, pooled
 * periods, baselines) waits for a hub_results_update with the touch's refresh set. */
int hub_results_update_period(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                              const cdof_period_t *p);

/* Empties the month cache's slots of the touched months. Ingest calls it for every
 * batch that writes points (committed or not), since their comparisons now run later, in the
 * tick: a cached month must never outlive a change to its points. */
void hub_results_forget(hub_t *hub, const hub_touch_t *touched, size_t n);

/* Full rebuild from the stored points (write txn): clears the results and recomputes every
 * metric and period oldest first. The rows equal those the incremental updates stored. */
int hub_results_rebuild(hub_t *hub, cdof_store_txn_t *txn);

/* Computes (not stores) the comparison for (m, p, basis) from points and stored history.
 * *out owned by the caller (cdof_compare_destroy). */
int hub_results_compute(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                        const cdof_period_t *p, hub_basis_t basis, cdof_compare_t **out);

/* Reads the stored row for one area (or partnership) code: 0, CDOF_ENOTFOUND or an error.
 * Pointers in *out are owned by the hub (reference data, partnerships). */
int hub_results_get(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                    const cdof_period_t *p, hub_basis_t basis, const char *code,
                    cdof_compare_row_t *out);

/* A cursor over the stored rows of (m, p, basis) in code order, skipping rows of areas since
 * removed from the reference data or configuration: open, then next until it returns 0. *out
 * owned by the caller (hub_results_rows_close, before or after txn ends). next returns 1 with
 * *row filled (its pointers owned by the hub), 0 at the end, or a negative code. */
typedef struct hub_results_rows hub_results_rows_t;
int hub_results_rows_open(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                          const cdof_period_t *p, hub_basis_t basis, hub_results_rows_t **out);
int hub_results_rows_next(hub_results_rows_t *c, cdof_compare_row_t *row);
void hub_results_rows_close(hub_results_rows_t **c);

/* Rebuilds inside txn (the caller aborts it afterwards) and compares every row, byte for byte,
 * with what was stored. Returns 0 when equal ("N rows equal" in diff), 1 with the first
 * difference named in diff, or a negative code. */
int hub_results_check(hub_t *hub, cdof_store_txn_t *txn, char *diff, size_t difflen);

/* Rebuild (or, with check, hub_results_check) in a write transaction of its own, started again
 * on a grown map when the map fills. *rows (may be NULL): rows stored after a rebuild. Returns
 * 0, 1 (check: different) or a negative code. */
int hub_results_rebuild_all(hub_t *hub, bool check, char *diff, size_t difflen, uint64_t *rows);

/* The area (reference data) or configured partnership with this code, or NULL. Owned by the
 * hub. */
const cdof_area_t *hub_results_area(const hub_t *hub, const char *code);

/* Whether the stored rows must be rebuilt before use: the store has points but no rows (it
 * predates stored comparisons), or the rows were computed with other partnerships or
 * commitments than the hub now has. *why says which (static text). Returns 0 or an error. */
int hub_results_stale(hub_t *hub, cdof_store_txn_t *txn, bool *stale, const char **why);

/* Number of stored rows (all metrics and periods). */
int hub_results_count(hub_t *hub, cdof_store_txn_t *txn, uint64_t *out);

/* The configured partnerships (--partnerships), in the file's order: how many, and the k-th
 * (NULL past the end). Owned by the hub; none without the file. They are one array:
 * hub_results_partnership_at(hub, 0) points at all of them. */
size_t hub_results_partnership_count(const hub_t *hub);
const cdof_partnership_t *hub_results_partnership_at(const hub_t *hub, size_t k);
/* The partnerships milestones are owed by (compliance and the milestone_overdue rule): every
 * configured partnership, even one that never reported, and every other name that reported a
 * milestone (an area on its own, or an agent's partnership), sorted, each once (read txn).
 * Returns 0 with *names (n strings; caller frees with hub_milestone_owers_free) or a negative
 * code. */
int hub_milestone_owers(hub_t *hub, cdof_store_txn_t *txn, char ***names, size_t *n);
void hub_milestone_owers_free(char **names, size_t n);

#endif
