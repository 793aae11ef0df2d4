#include "cdof_commitments.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_csv.h"
#include "cdof_error.h"

#define MAX_COMMITMENTS 256

struct cdof_commitments {
    cdof_commitment_t items[MAX_COMMITMENTS];
    char *texts[2 * MAX_COMMITMENTS]; /* commitment and source strings */
    size_t n;
};

static const char *const kind_names[] = {"level", "change", "cumulative", "direction"};
enum {
    COL_METRIC,
    COL_KIND,
    COL_BASE_PERIOD,
    COL_BASE,
    COL_TARGET,
    COL_SINCE,
    COL_BY,
    COL_TEXT,
    COL_SOURCE,
    COL_CHANGE_PERCENT,
    NCOLS
};
static const char *const col_names[NCOLS] = {
    "metric_id", "kind", "baseline_period", "baseline", "target",
    "since",     "by",   "commitment",      "source",   "change_percent"};

static bool parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static int parse_row(cdof_commitments_t *set, const cdof_ref_t *ref, const cdof_csv_record_t *r,
                     const int *col, char *err, size_t errlen)
{
    const char *f[NCOLS];
    for (int i = 0; i < NCOLS; i++)
        f[i] = col[i] >= 0 && (size_t)col[i] < r->nfields ? r->fields[col[i]].data : "";
    if (set->n == MAX_COMMITMENTS)
        return cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r->line, NULL,
                              "more than %d commitments", MAX_COMMITMENTS);
    cdof_commitment_t *c = &set->items[set->n];
    memset(c, 0, sizeof *c);
    if (!(c->metric = cdof_ref_metric(ref, f[COL_METRIC])))
        return cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r->line, NULL,
                              "field 'metric_id': '%.64s' is not in the catalogue", f[COL_METRIC]);
    if (cdof_commitments_find(set, c->metric->id))
        return cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r->line, NULL,
                              "field 'metric_id': '%.64s' appears twice", f[COL_METRIC]);
    size_t k = 0;
    while (k < 4 && strcmp(f[COL_KIND], kind_names[k]) != 0)
        k++;
    if (k == 4)
        return cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r->line, NULL,
                              "field 'kind': '%.32s' is not level, change, cumulative or direction",
                              f[COL_KIND]);
    c->kind = (cdof_commit_kind_t)k;
    if (*f[COL_BASE_PERIOD]) {
        cdof_period_t p;
        char why[128];
        if (cdof_period_parse(f[COL_BASE_PERIOD], &p, why, sizeof why) < 0)
            return cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r->line, NULL,
                                  "field 'baseline_period': %s", why);
        snprintf(c->baseline_period, sizeof c->baseline_period, "%s", f[COL_BASE_PERIOD]);
    }
    if (*f[COL_BASE] && !(c->has_baseline = parse_number(f[COL_BASE], &c->baseline)))
        return cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r->line, NULL,
                              "field 'baseline': '%.32s' is not a number", f[COL_BASE]);
    if (*f[COL_TARGET] && !(c->has_target = parse_number(f[COL_TARGET], &c->target)))
        return cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r->line, NULL,
                              "field 'target': '%.32s' is not a number", f[COL_TARGET]);
    if (c->kind != CDOF_COMMIT_DIRECTION && !c->has_target)
        return cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r->line, NULL,
                              "field 'target': a %s commitment needs a figure", kind_names[k]);
    if (*f[COL_SINCE] && cdof_date_parse(f[COL_SINCE], &c->since_day) < 0)
        return cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r->line, NULL,
                              "field 'since': '%.32s' is not a date (YYYY-MM-DD)", f[COL_SINCE]);
    if (c->kind == CDOF_COMMIT_CUMULATIVE && !*f[COL_SINCE])
        return cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r->line, NULL,
                              "field 'since': a cumulative commitment needs a start");
    if (*f[COL_BY] && cdof_date_parse(f[COL_BY], &c->by_day) < 0)
        return cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r->line, NULL,
                              "field 'by': '%.32s' is not a date (YYYY-MM-DD)", f[COL_BY]);
    if (*f[COL_CHANGE_PERCENT]) {
        if (!(c->has_change_percent = parse_number(f[COL_CHANGE_PERCENT], &c->change_percent)) ||
            c->change_percent <= -100)
            return cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r->line, NULL,
                                  "field 'change_percent': '%.32s' is not a number above -100",
                                  f[COL_CHANGE_PERCENT]);
        if (!*f[COL_SINCE] || !*f[COL_BY] || c->by_day <= c->since_day)
            return cdof_reason_at(
                CDOF_EREFDATA, err, errlen, "commitments.csv", r->line, NULL,
                "field 'change_percent': needs 'since' and a later 'by' (its span)");
    }
    if (!*f[COL_TEXT])
        return cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r->line, NULL,
                              "field 'commitment' is empty");
    char *text = strdup(f[COL_TEXT]), *source = strdup(f[COL_SOURCE]);
    set->texts[2 * set->n] = text;
    set->texts[2 * set->n + 1] = source;
    if (!text || !source)
        return -ENOMEM;
    c->commitment = text;
    c->source = source;
    set->n++;
    return 0;
}

int cdof_commitments_load(const char *path, const cdof_ref_t *ref, cdof_commitments_t **out,
                          char *err, size_t errlen)
{
    cdof_csv_t *csv = NULL;
    cdof_commitments_t *set = calloc(1, sizeof *set);
    *out = NULL;
    if (!set)
        return -ENOMEM;
    int rc = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        rc = errno == ENOENT ? CDOF_ENOTFOUND : -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        *out = set; /* an empty set: the hub answers without commitments */
        return rc;
    }
    if (!(csv = cdof_csv_new(f, NULL))) {
        rc = -ENOMEM;
        goto fail;
    }
    cdof_csv_record_t r;
    char why[256];
    int col[NCOLS];
    rc = cdof_csv_next(csv, &r, why, sizeof why);
    if (rc <= 0) {
        rc = cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", rc == 0 ? 1 : r.line,
                            NULL, "%s", rc == 0 ? "no header row" : why);
        goto fail;
    }
    for (int i = 0; i < NCOLS; i++) {
        col[i] = -1;
        for (size_t j = 0; j < r.nfields; j++) {
            if (!strcmp(r.fields[j].data, col_names[i]))
                col[i] = (int)j;
        }
        if (col[i] < 0 && i != COL_SOURCE && i != COL_BASE_PERIOD && i != COL_SINCE &&
            i != COL_CHANGE_PERCENT) {
            rc = cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r.line, NULL,
                                "header: no column '%s'", col_names[i]);
            goto fail;
        }
    }
    while ((rc = cdof_csv_next(csv, &r, why, sizeof why)) != 0) {
        if (rc < 0) {
            rc = cdof_reason_at(CDOF_EREFDATA, err, errlen, "commitments.csv", r.line, NULL, "%s",
                                why);
            goto fail;
        }
        if ((rc = parse_row(set, ref, &r, col, err, errlen)) < 0)
            goto fail;
    }
    cdof_csv_destroy(&csv);
    fclose(f);
    *out = set;
    return 0;
fail:
    cdof_csv_destroy(&csv);
    fclose(f);
    cdof_commitments_destroy(&set);
    return rc;
}

void cdof_commitments_destroy(cdof_commitments_t **set)
{
    if (!set || !*set)
        return;
    for (size_t i = 0; i < 2 * MAX_COMMITMENTS; i++)
        free((*set)->texts[i]);
    free(*set);
    *set = NULL;
}

const cdof_commitment_t *cdof_commitments_find(const cdof_commitments_t *set, const char *metric_id)
{
    for (size_t i = 0; set && i < set->n; i++) {
        if (!strcmp(set->items[i].metric->id, metric_id))
            return &set->items[i];
    }
    return NULL;
}

size_t cdof_commitments_count(const cdof_commitments_t *set)
{
    return set ? set->n : 0;
}

const cdof_commitment_t *cdof_commitments_at(const cdof_commitments_t *set, size_t i)
{
    return set && i < set->n ? &set->items[i] : NULL;
}

bool cdof_commitment_progress(const cdof_commitment_t *c, double baseline, double latest,
                              double *target_level, double *progress)
{
    if (!c->has_target || !isfinite(latest))
        return false;
    if (c->kind == CDOF_COMMIT_CUMULATIVE) {
        if (c->target == 0)
            return false;
        *target_level = c->target;
        *progress = 100 * latest / c->target;
        return true;
    }
    if (c->kind == CDOF_COMMIT_DIRECTION || !isfinite(baseline))
        return false;
    double level = c->kind == CDOF_COMMIT_CHANGE ? baseline + c->target : c->target;
    if (level == baseline)
        return false;
    *target_level = level;
    *progress = 100 * (latest - baseline) / (level - baseline);
    return true;
}

bool cdof_commitment_yearly_change(const cdof_commitment_t *c, double *out)
{
    if (!c->has_change_percent)
        return false;
    /* Whole years: the strategy's spans run April to March, a day short of 3 x 365.25. */
    double years = round((c->by_day - c->since_day + 1) / 365.25);
    if (years < 1)
        years = 1;
    *out = pow(1 + c->change_percent / 100, 1 / years) - 1;
    return true;
}

const char *cdof_commitment_kind_name(cdof_commit_kind_t k)
{
    return (unsigned)k < 4 ? kind_names[k] : "direction";
}
