/* Comparisons for one metric and period: every area's value and intervals, England's and each
 * region's aggregates, verdicts against both and quintiles. Pure: it takes points as numbers
 * and returns rows; the hub reads the store and acts on the rows. */
#ifndef CDOF_COMPARE_H
#define CDOF_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdof_figure.h"
#include "cdof_partnerships.h"
#include "cdof_period.h"
#include "cdof_ref.h"
#include "cdof_stats.h"

typedef struct {
    const cdof_area_t *area; /* a UTLA, a region or England */
    cdof_figure_t fig;
    int64_t received_ms; /* when the hub stored it; carried through to the row */
} cdof_compare_input_t;

typedef struct {
    const cdof_area_t *area;
    bool submitted;    /* false for an aggregate the hub built from its areas */
    cdof_figure_t fig; /* value in the metric's unit: percentage, rate per multiplier, or count */
    bool has_interval;
    cdof_interval_t ci95, ci998; /* same unit as value */
    cdof_verdict_t vs_england, vs_region;
    int quintile;                       /* 1 best .. 5 worst, 0 none; UTLAs only */
    double england_value, region_value; /* NaN when there is no benchmark */
    int64_t received_ms;                /* 0 for aggregates */
    /* Partnerships, trend and baselines (cdof_compare_run_opts; zero/NaN from cdof_compare_run). */
    const char *partnership;      /* UTLAs: their partnership's code (own code when none) */
    cdof_trend_result_t trend;    /* CDOF_TREND_NONE unless computed */
    bool worse_and_getting_worse; /* worse or worst than England and the trend getting worse */
    bool has_baseline;            /* counts: the same period a year earlier */
    double baseline_value;
    cdof_verdict_t vs_baseline; /* the baseline against the count's own interval */
    bool has_trajectory;        /* counts: the baseline grown by the national commitment */
    double trajectory_value;
    cdof_verdict_t vs_trajectory;
    /* Coverage (set by the hub from period states; zero from cdof_compare_run): aggregate rows'
     * expected areas that reported, whether the aggregate sums an incomplete period, and for
     * areas whether the England or region figure they are compared with is such a one. */
    uint32_t reported, expected;
    bool provisional, england_provisional, region_provisional;
} cdof_compare_row_t;

typedef struct cdof_compare cdof_compare_t;

/* Computes rows for metric m from n inputs (any order; at most one per area). The result holds
 * one row per input area plus England and every region with an aggregate, UTLAs first in input
 * order. Owned by the caller: cdof_compare_destroy. Returns NULL on allocation failure. */
cdof_compare_t *cdof_compare_run(const cdof_ref_t *ref, const cdof_metric_t *m,
                                 const cdof_compare_input_t *in, size_t n);
void cdof_compare_destroy(cdof_compare_t **c);

size_t cdof_compare_count(const cdof_compare_t *c);
const cdof_compare_row_t *cdof_compare_row(const cdof_compare_t *c, size_t i);
/* The row for an area code, or NULL. */
const cdof_compare_row_t *cdof_compare_find(const cdof_compare_t *c, const char *area_code);

/* ---- Options: partnerships, other periods (trend, baseline), the national commitment ---- */

/* An area's figures in another period, as a comparison computed them. */
typedef struct {
    bool has_value, has_interval;
    double value;
    cdof_interval_t ci95;
} cdof_compare_past_t;

/* Asked for area's figures in period p (same metric, same basis). Returns 0 with *out filled,
 * CDOF_ENOTFOUND when there are none, or another negative code, which the comparison stops on
 * and returns. */
typedef int (*cdof_compare_past_fn)(void *ctx, const cdof_area_t *area, const cdof_period_t *p,
                                    cdof_compare_past_t *out);

typedef struct {
    const cdof_period_t *period;            /* the period compared: needed for trend and baseline */
    const cdof_partnership_t *partnerships; /* the caller's; must outlive the comparison */
    size_t npartnerships;
    cdof_compare_past_fn past; /* NULL: no trend and no baseline */
    void *past_ctx;
    bool trend;               /* recent trend over the five latest single periods */
    double trajectory_change; /* counts: yearly change the commitment asks (0.2 = +20%); NaN none */
} cdof_compare_opts_t;

/* As cdof_compare_run, plus with opts (may be NULL): a row per configured partnership that has
 * data (after the regions), each UTLA row's partnership, the recent trend and "worse and getting
 * worse" for every row when opts->trend (not for pooled periods or metrics without intervals),
 * and for counts without a denominator the baseline and trajectory verdicts. Returns 0 and *out
 * (owned by the caller), -ENOMEM, or the negative code a past() call returned. */
int cdof_compare_run_opts(const cdof_ref_t *ref, const cdof_metric_t *m,
                          const cdof_compare_input_t *in, size_t n, const cdof_compare_opts_t *opts,
                          cdof_compare_t **out);

/* Recomputes row->trend and row->worse_and_getting_worse from row's own value and interval in
 * period p and the four periods before it (asked of past). Used when an earlier period changes
 * after a later one was compared. Returns 0 or past()'s negative code. */
int cdof_compare_row_trend(const cdof_metric_t *m, const cdof_period_t *p, cdof_compare_row_t *row,
                           cdof_compare_past_fn past, void *ctx);

/* A comparison holding copies of n rows computed earlier (e.g. read back from a store), for
 * callers that take a cdof_compare_t. Returns 0 and *out (owned by the caller) or -ENOMEM. */
int cdof_compare_from_rows(const cdof_compare_row_t *rows, size_t n, cdof_compare_t **out);

/* The row at i, writable: for callers that rebuild stored rows (trend refresh). */
cdof_compare_row_t *cdof_compare_row_mut(cdof_compare_t *c, size_t i);
/* A group of areas (a partnership) as one row, from the rows of c: the members' counts
 * summed (never their rates averaged), value and intervals as the metric's method says, verdicts
 * against England and, when every member is in one region, that region (vs_region not compared
 * otherwise); no quintile. out->area is the first member's area: the caller names the group.
 * Returns 0, CDOF_ENOTFOUND when a member has no row or a code is not a UTLA of ref, or -EINVAL
 * for an empty group. */
int cdof_compare_group(const cdof_compare_t *c, const cdof_ref_t *ref, const cdof_metric_t *m,
                       const char *const *codes, size_t n, cdof_compare_row_t *out);

#endif
