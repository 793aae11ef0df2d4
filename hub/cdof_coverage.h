/* Coverage and period completeness (DESIGN.md "Period model"). Pure: reference data and flags in,
 * counts and a judgement out; the hub stores the states and reads the points.
 *
 * For every metric the catalogue's geography says who is expected to report a period: every
 * upper-tier area for "utla" metrics, every region for "region" metrics, and the national source
 * (England, E92000001) for "national" metrics. The reference data lists no police force areas or
 * prisons, so "pfa" and "prison" metrics expect the national source's England figure too.
 * Coverage is reported / expected for England, each region and each partnership. */
#ifndef CDOF_COVERAGE_H
#define CDOF_COVERAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdof_partnerships.h"
#include "cdof_period.h"
#include "cdof_ref.h"

/* Whether area a is expected to report metric m. */
bool cdof_coverage_expects(const cdof_metric_t *m, const cdof_area_t *a);

/* One geography's coverage: its areas that reported / those expected (0 expected: none). */
typedef struct {
    const cdof_area_t *area; /* England, a region, or a configured partnership */
    uint32_t reported, expected;
} cdof_coverage_group_t;

/* Coverage of one metric and period. groups[0] is England, then the regions in reference order,
 * then the configured partnerships in their order. */
typedef struct {
    cdof_coverage_group_t *groups;
    size_t ngroups;
} cdof_coverage_t;

/* Counts coverage from reported[area index] (cdof_ref_area_count() flags: the areas with a point
 * for the period). Partnerships may be NULL (n 0). Fills *out (release with
 * cdof_coverage_free). Returns 0 or -ENOMEM. */
int cdof_coverage_compute(const cdof_ref_t *ref, const cdof_metric_t *m,
                          const cdof_partnership_t *parts, size_t nparts, const bool *reported,
                          cdof_coverage_t *out);
void cdof_coverage_free(cdof_coverage_t *c);

/* The group of code (England, region or partnership), or NULL. */
const cdof_coverage_group_t *cdof_coverage_find(const cdof_coverage_t *c, const char *code);

/* Whether a group's own figure is whole: every expected area reported. */
static inline bool cdof_coverage_full(const cdof_coverage_group_t *g)
{
    return g && g->expected > 0 && g->reported >= g->expected;
}

/* ---- period states ---- */

typedef enum {
    CDOF_PSTATE_OPEN = 1,     /* data arriving, not yet complete */
    CDOF_PSTATE_COMPLETE = 2, /* every expected area reported, or the deadline passed at or above
                                 the threshold */
    CDOF_PSTATE_CLOSED = 3    /* closed by a named person, whatever its coverage */
} cdof_pstate_t;

typedef enum {
    CDOF_PDONE_NONE = 0,
    CDOF_PDONE_ALL_REPORTED = 1,
    CDOF_PDONE_DEADLINE = 2,
    CDOF_PDONE_PERSON = 3
} cdof_pdone_t;

/* When a metric's periods complete without every expected area. Defaults: 90% of the expected
 * areas by 30 days after the period ends (DESIGN.md "Period model" says why). */
#define CDOF_PERIOD_THRESHOLD_DEFAULT     0.90
#define CDOF_PERIOD_DEADLINE_DAYS_DEFAULT 30
typedef struct {
    double threshold;      /* fraction of expected areas, 0..1 */
    int32_t deadline_days; /* after the period's last day */
} cdof_period_policy_t;

/* The day after which an open period completes at the threshold. */
int32_t cdof_coverage_deadline(const cdof_period_policy_t *pol, const cdof_period_t *p);

/* Judges an open period: CDOF_PSTATE_COMPLETE with *why when reported >= expected (> 0), or when
 * today is past the deadline and reported reaches the threshold; else CDOF_PSTATE_OPEN. */
cdof_pstate_t cdof_coverage_judge(uint32_t reported, uint32_t expected,
                                  const cdof_period_policy_t *pol, const cdof_period_t *p,
                                  int32_t today, cdof_pdone_t *why);

/* Per-metric policies: the defaults, overridden by a CSV file with the header
 * metric_id,threshold_percent,deadline_days (either value may be empty: unchanged; metric_id *
 * sets every metric; later lines override earlier ones). Lines that
 * name no catalogue metric or hold a bad number fail with "FILE:LINE: ..." in err; nothing is
 * applied then. policies has cdof_ref_metric_count() entries, filled in any case with the
 * defaults first. path NULL: defaults only. Returns 0, CDOF_EINVALID or -errno. */
int cdof_coverage_policies_load(const cdof_ref_t *ref, const char *path,
                                cdof_period_policy_t *policies, char *err, size_t errlen);

const char *cdof_pstate_name(cdof_pstate_t s);
const char *cdof_pdone_name(cdof_pdone_t d);

#endif
