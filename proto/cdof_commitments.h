/* The strategy's national commitments (proto/data/commitments.csv, described in SOURCES.md) and
 * progress against them. Loading reads one small file; progress is a pure function. */
#ifndef CDOF_COMMITMENTS_H
#define CDOF_COMMITMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdof_period.h"
#include "cdof_ref.h"

typedef enum {
    CDOF_COMMIT_LEVEL,      /* reach target (in the metric's unit) */
    CDOF_COMMIT_CHANGE,     /* move target from the baseline (54,500 more places) */
    CDOF_COMMIT_CUMULATIVE, /* a total of target over the periods starting on or after since */
    CDOF_COMMIT_DIRECTION   /* reverse a trend: no figure, the metric's polarity says which way */
} cdof_commit_kind_t;

typedef struct {
    const cdof_metric_t *metric;
    cdof_commit_kind_t kind;
    bool has_baseline; /* else the hub's earliest England figure */
    double baseline;
    char baseline_period[CDOF_PERIOD_TEXT_MAX]; /* "" when not given */
    bool has_target;
    double target;
    int32_t since_day;               /* cumulative only */
    int32_t by_day;                  /* the deadline; 0 when none */
    const char *commitment, *source; /* owned by the set */
    /* The commitment as a relative change over since..by, where the strategy states one (+20%
     * over three years): areas' count trajectories grow by its yearly rate. */
    bool has_change_percent;
    double change_percent;
} cdof_commitment_t;

typedef struct cdof_commitments cdof_commitments_t;

/* Loads path (header row, columns by name: metric_id, kind, baseline_period, baseline, target,
 * since, by, commitment, source, change_percent; the last optional, needing since and by). Every
 * metric must be in ref's catalogue. Returns 0, CDOF_ENOTFOUND when the file does not exist (no
 * commitments: *out is an empty set), or CDOF_EREFDATA with "commitments.csv:4: field 'target':
 * 'lots' is not a number" in err. *out is owned by the caller: cdof_commitments_destroy. */
int cdof_commitments_load(const char *path, const cdof_ref_t *ref, cdof_commitments_t **out,
                          char *err, size_t errlen);
void cdof_commitments_destroy(cdof_commitments_t **set);

/* The commitment for a metric, or NULL; owned by the set. */
const cdof_commitment_t *cdof_commitments_find(const cdof_commitments_t *set,
                                               const char *metric_id);
size_t cdof_commitments_count(const cdof_commitments_t *set);
const cdof_commitment_t *cdof_commitments_at(const cdof_commitments_t *set, size_t i);

/* Progress of latest against c. For level and change: the level asked for (*target_level) and
 * the percentage of the way from baseline to it; cumulative: latest is the total so far and the
 * percentage is of target. Returns false (outputs untouched) for direction commitments and when
 * the figures cannot give one (no target, target equal to the baseline, NaN). */
bool cdof_commitment_progress(const cdof_commitment_t *c, double baseline, double latest,
                              double *target_level, double *progress);

/* The yearly rate of c's relative change: (1 + change_percent/100)^(1/years) - 1, years being
 * the whole years from since to by (2022-04-01 to 2025-03-31: 3). 20% over three years gives
 * 0.0627. Returns false (out untouched) when c states no relative change. */
bool cdof_commitment_yearly_change(const cdof_commitment_t *c, double *out);

/* "level", "change", "cumulative" or "direction". */
const char *cdof_commitment_kind_name(cdof_commit_kind_t k);

#endif
