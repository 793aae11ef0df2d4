/* Comparisons for one metric and period: every area's value and intervals, England's and each
 * region's aggregates, verdicts against both and quintiles. Pure: it takes points as numbers
 * and returns rows; the hub reads the store and acts on the rows. */
#ifndef CDOF_COMPARE_H
#define CDOF_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdof_ref.h"
#include "cdof_stats.h"

typedef struct {
    const cdof_area_t *area; /* a UTLA, a region or England */
    bool has_numerator, has_denominator, has_value;
    double numerator, denominator, value;
    int64_t received_ms; /* when the hub stored it; carried through to the row */
} cdof_compare_input_t;

typedef struct {
    const cdof_area_t *area;
    bool submitted; /* false for an aggregate the hub built from its areas */
    bool has_numerator, has_denominator;
    double numerator, denominator;
    bool has_value;
    double value; /* in the metric's unit: percentage, rate per multiplier, or count */
    bool has_interval;
    cdof_interval_t ci95, ci998; /* same unit as value */
    cdof_verdict_t vs_england, vs_region;
    int quintile;                       /* 1 best .. 5 worst, 0 none; UTLAs only */
    double england_value, region_value; /* NaN when there is no benchmark */
    int64_t received_ms;                /* 0 for aggregates */
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

/* issue 7: a group of areas (a partnership) as one row, from the rows of c: the members' counts
 * summed (never their rates averaged), value and intervals as the metric's method says, verdicts
 * against England and, when every member is in one region, that region (vs_region not compared
 * otherwise); no quintile. out->area is the first member's area: the caller names the group.
 * Returns 0, CDOF_ENOTFOUND when a member has no row or a code is not a UTLA of ref, or -EINVAL
 * for an empty group. */
int cdof_compare_group(const cdof_compare_t *c, const cdof_ref_t *ref, const cdof_metric_t *m,
                       const char *const *codes, size_t n, cdof_compare_row_t *out);

#endif
