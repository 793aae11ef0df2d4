/* Validation of metric updates and milestone events against the reference data. Used by agents
 * before anything enters the outbox and again by the hub before anything is stored. */
#ifndef CDOF_VALIDATE_H
#define CDOF_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdof_figure.h"
#include "cdof_period.h"
#include "cdof_ref.h"

/* The strategy's reporting range: periods from 1990 (the first years of the ONS deaths series
 * the baselines reach back to) to the end of the strategy's ten years (the 2031/32 financial
 * year). A period outside it is refused. */
#define CDOF_REPORTING_FIRST_YEAR 1990
#define CDOF_REPORTING_LAST_YEAR  2032
#define CDOF_REPORTING_LAST_MONTH 3
#define CDOF_REPORTING_LAST_DAY   31

/* Clock difference allowed by cdof_validate_period_arrival unless configured otherwise. */
#define CDOF_PERIOD_TOLERANCE_DAYS 1

/* A metric update in plain C form (the wire's MetricUpdate without provenance). */
typedef struct {
    const char *metric_id;
    const char *area_code;
    cdof_period_t period;
    cdof_figure_t fig;
} cdof_update_t;

/* Which areas a sender may report for. */
typedef struct {
    bool national;            /* any area, England and the regions */
    const char *const *areas; /* otherwise these codes (not owned) */
    size_t nareas;
} cdof_scope_t;

/* Checks u: known metric and area, the area within scope (NULL scope: any area), period
 * well-formed, inside the reporting range and of the kind the metric's frequency allows (monthly:
 * months; quarterly: quarters; annual: financial or calendar years; pooled3: 3-year pooled
 * periods or the calendar years they are built from), numbers finite and non-negative,
 * numerator and denominator present where the method needs them (or a value otherwise),
 * numerator <= denominator for percentages, whole numbers for counts, and plausibility: no count,
 * numerator or denominator above the metric's max_per_population times the area's population,
 * no rate or percentage outside its plausible range. Returns 0, or CDOF_EINVALID with a reason a
 * person understands naming the field in err. */
int cdof_validate_update(const cdof_ref_t *ref, const cdof_scope_t *scope, const cdof_update_t *u,
                         char *err, size_t errlen);

/* As cdof_validate_update, and on success sets *metric (if not NULL) to u's metric in ref (owned
 * by ref), so that a caller that goes on to store u need not look it up again. *metric is NULL
 * after a failure. */
int cdof_validate_update_metric(const cdof_ref_t *ref, const cdof_scope_t *scope,
                                const cdof_update_t *u, const cdof_metric_t **metric, char *err,
                                size_t errlen);

/* Checks a milestone: known kind, date not before December 2021 and not after today, and the
 * partnership is the sender's own (NULL own_partnership: any). */
int cdof_validate_milestone(const cdof_ref_t *ref, const char *milestone_id,
                            const char *partnership, int32_t date, int32_t today,
                            const char *own_partnership, char *err, size_t errlen);

/* Checks that period p has begun by day today (the day it arrives), allowing tolerance_days of
 * clock difference: a period may be sent while it runs (provisional figures) but not before.
 * Returns 0 or CDOF_EINVALID with a reason. */
int cdof_validate_period_arrival(const cdof_period_t *p, int32_t today, int tolerance_days,
                                 char *err, size_t errlen);

/* True when the period kind is one the metric accepts. */
bool cdof_validate_period_fits(const cdof_metric_t *m, cdof_period_kind_t kind);

#endif
