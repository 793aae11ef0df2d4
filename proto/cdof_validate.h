/* Validation of metric updates and milestone events against the reference data. Used by agents
 * before anything enters the outbox and again by the hub before anything is stored. */
#ifndef CDOF_VALIDATE_H
#define CDOF_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdof_period.h"
#include "cdof_ref.h"

/* A metric update in plain C form (the wire's MetricUpdate without provenance). */
typedef struct {
    const char *metric_id;
    const char *area_code;
    cdof_period_t period;
    bool has_numerator, has_denominator, has_value;
    double numerator, denominator, value;
} cdof_update_t;

/* Which areas a sender may report for. */
typedef struct {
    bool national;            /* any area, England and the regions */
    const char *const *areas; /* otherwise these codes (not owned) */
    size_t nareas;
} cdof_scope_t;

/* Checks u: known metric and area, the area within scope (NULL scope: any area), period
 * well-formed and of a kind the metric's frequency allows, numbers finite and non-negative,
 * numerator and denominator present where the method needs them (or a value otherwise),
 * numerator <= denominator for percentages, whole numbers for counts. Returns 0, or CDOF_EINVALID
 * with a reason a person understands naming the field in err. */
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

/* True when the period kind is one the metric accepts. */
bool cdof_validate_period_fits(const cdof_metric_t *m, cdof_period_kind_t kind);

#endif
