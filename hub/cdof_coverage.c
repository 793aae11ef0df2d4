/* Coverage and period completeness: who is expected, how many reported, whether a period is
 * complete. Pure (no store, no sockets). */
#include "cdof_coverage.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_csv.h"
#include "cdof_error.h"
#include "cdof_partnerships.h"

bool cdof_coverage_expects(const cdof_metric_t *m, const cdof_area_t *a)
{
    if (!m || !a)
        return false;
    if (!strcmp(m->geography, "utla"))
        return a->kind == CDOF_AREA_UTLA;
    if (!strcmp(m->geography, "region"))
        return a->kind == CDOF_AREA_REGION;
    /* national, and pfa/prison (no such areas in the reference): the national source. */
    return a->kind == CDOF_AREA_ENGLAND;
}

static void count(cdof_coverage_group_t *g, bool reported)
{
    if (!g)
        return;
    g->expected++;
    g->reported += reported;
}

int cdof_coverage_compute(const cdof_ref_t *ref, const cdof_metric_t *m,
                          const cdof_partnership_t *parts, size_t nparts, const bool *reported,
                          cdof_coverage_t *out)
{
    size_t na = cdof_ref_area_count(ref), nregions = 0;
    for (size_t i = 0; i < na; i++)
        nregions += cdof_ref_area_at(ref, i)->kind == CDOF_AREA_REGION;
    out->ngroups = 1 + nregions + nparts;
    out->groups = calloc(out->ngroups, sizeof *out->groups);
    if (!out->groups) {
        out->ngroups = 0;
        return -ENOMEM;
    }
    cdof_coverage_group_t *eng = &out->groups[0];
    size_t k = 1;
    for (size_t i = 0; i < na; i++) {
        const cdof_area_t *a = cdof_ref_area_at(ref, i);
        if (a->kind == CDOF_AREA_ENGLAND)
            eng->area = a;
        else if (a->kind == CDOF_AREA_REGION)
            out->groups[k++].area = a;
    }
    for (size_t p = 0; p < nparts; p++)
        out->groups[1 + nregions + p].area = &parts[p].area;
    for (size_t i = 0; i < na; i++) {
        const cdof_area_t *a = cdof_ref_area_at(ref, i);
        if (!cdof_coverage_expects(m, a))
            continue;
        bool r = reported[a->index];
        count(eng, r);
        /* A region's own figure (region metrics) or its areas' (utla metrics). */
        const char *region = a->kind == CDOF_AREA_REGION ? a->code : a->region_code;
        for (size_t g = 1; region && g <= nregions; g++) {
            if (!strcmp(out->groups[g].area->code, region))
                count(&out->groups[g], r);
        }
    }
    for (size_t p = 0; p < nparts; p++) {
        for (size_t j = 0; j < parts[p].nmembers; j++) {
            const cdof_area_t *a = parts[p].members[j];
            if (cdof_coverage_expects(m, a))
                count(&out->groups[1 + nregions + p], reported[a->index]);
        }
    }
    return 0;
}

void cdof_coverage_free(cdof_coverage_t *c)
{
    if (!c)
        return;
    free(c->groups);
    c->groups = NULL;
    c->ngroups = 0;
}

const cdof_coverage_group_t *cdof_coverage_find(const cdof_coverage_t *c, const char *code)
{
    for (size_t i = 0; c && code && i < c->ngroups; i++) {
        if (c->groups[i].area && !strcmp(c->groups[i].area->code, code))
            return &c->groups[i];
    }
    return NULL;
}

int32_t cdof_coverage_deadline(const cdof_period_policy_t *pol, const cdof_period_t *p)
{
    return p->last_day + pol->deadline_days;
}

cdof_pstate_t cdof_coverage_judge(uint32_t reported, uint32_t expected,
                                  const cdof_period_policy_t *pol, const cdof_period_t *p,
                                  int32_t today, cdof_pdone_t *why)
{
    *why = CDOF_PDONE_NONE;
    if (expected > 0 && reported >= expected) {
        *why = CDOF_PDONE_ALL_REPORTED;
        return CDOF_PSTATE_COMPLETE;
    }
    /* The threshold in whole areas, rounded up: 90% of 153 is 138 areas, not 137.7. The small
     * tolerance keeps 0.9 * 10 at 9 despite binary fractions. */
    double need = ceil(pol->threshold * (double)expected - 1e-9);
    if (expected > 0 && today > cdof_coverage_deadline(pol, p) && (double)reported >= need) {
        *why = CDOF_PDONE_DEADLINE;
        return CDOF_PSTATE_COMPLETE;
    }
    return CDOF_PSTATE_OPEN;
}

const char *cdof_pstate_name(cdof_pstate_t s)
{
    switch (s) {
    case CDOF_PSTATE_OPEN:
        return "open";
    case CDOF_PSTATE_COMPLETE:
        return "complete";
    case CDOF_PSTATE_CLOSED:
        return "closed";
    }
    return "unknown";
}

const char *cdof_pdone_name(cdof_pdone_t d)
{
    switch (d) {
    case CDOF_PDONE_ALL_REPORTED:
        return "all_reported";
    case CDOF_PDONE_DEADLINE:
        return "deadline";
    case CDOF_PDONE_PERSON:
        return "person";
    case CDOF_PDONE_NONE:
        break;
    }
    return "";
}

/* ---- per-metric policies ---- */

static int column(const cdof_csv_record_t *r, const char *name)
{
    for (size_t i = 0; i < r->nfields; i++) {
        if (!strcmp(r->fields[i].data, name))
            return (int)i;
    }
    return -1;
}

static int parse_policy(const cdof_ref_t *ref, const char *path, const cdof_csv_record_t *r,
                        const int col[3], cdof_period_policy_t *policies, char *err, size_t errlen)
{
    for (int c = 0; c < 3; c++) {
        if ((size_t)col[c] >= r->nfields) {
            snprintf(err, errlen, "%s:%lu: expected %d fields, found %zu", path, r->line,
                     col[c] + 1, r->nfields);
            return CDOF_EINVALID;
        }
    }
    const char *id = r->fields[col[0]].data;
    bool every = !strcmp(id, "*");
    const cdof_metric_t *m = every ? NULL : cdof_ref_metric(ref, id);
    if (!m && !every) {
        snprintf(err, errlen,
                 "%s:%lu: field 'metric_id': '%.64s' is not in the catalogue (or * for every "
                 "metric)",
                 path, r->line, id);
        return CDOF_EINVALID;
    }
    cdof_period_policy_t one = every ? policies[0] : policies[m->index], *pol = &one;
    const char *t = r->fields[col[1]].data, *d = r->fields[col[2]].data;
    char *end;
    if (*t) {
        errno = 0;
        double v = strtod(t, &end);
        if (errno || *end || !isfinite(v) || v <= 0 || v > 100) {
            snprintf(err, errlen,
                     "%s:%lu: field 'threshold_percent': '%.32s' is not a percentage above 0 "
                     "and at most 100",
                     path, r->line, t);
            return CDOF_EINVALID;
        }
        pol->threshold = v / 100;
    }
    if (*d) {
        errno = 0;
        long v = strtol(d, &end, 10);
        if (errno || *end || v < 0 || v > 3660) {
            snprintf(err, errlen,
                     "%s:%lu: field 'deadline_days': '%.32s' is not a whole number of days "
                     "from 0 to 3660",
                     path, r->line, d);
            return CDOF_EINVALID;
        }
        pol->deadline_days = (int32_t)v;
    }
    /* "*" sets every metric; a later line overrides an earlier one. */
    for (size_t i = 0; i < cdof_ref_metric_count(ref); i++) {
        if (every || i == m->index) {
            if (*t)
                policies[i].threshold = one.threshold;
            if (*d)
                policies[i].deadline_days = one.deadline_days;
        }
    }
    return 0;
}

int cdof_coverage_policies_load(const cdof_ref_t *ref, const char *path,
                                cdof_period_policy_t *policies, char *err, size_t errlen)
{
    size_t nm = cdof_ref_metric_count(ref);
    for (size_t i = 0; i < nm; i++)
        policies[i] = (cdof_period_policy_t){CDOF_PERIOD_THRESHOLD_DEFAULT,
                                             CDOF_PERIOD_DEADLINE_DAYS_DEFAULT};
    if (!path)
        return 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
        return -e;
    }
    cdof_period_policy_t *next = malloc((nm ? nm : 1) * sizeof *next);
    cdof_csv_t *csv = cdof_csv_new(f, NULL);
    int rc = next && csv ? 0 : -ENOMEM;
    if (rc == 0)
        memcpy(next, policies, nm * sizeof *next);
    cdof_csv_record_t r;
    char why[256];
    int col[3] = {-1, -1, -1};
    bool header = true;
    while (rc == 0) {
        int n = cdof_csv_next(csv, &r, why, sizeof why);
        if (n == 0)
            break;
        if (n < 0) {
            snprintf(err, errlen, "%s:%lu: %s", path, r.line,
                     n == CDOF_EINVALID ? why : "read error");
            rc = n == CDOF_EINVALID ? CDOF_EINVALID : n;
            break;
        }
        if (header) {
            header = false;
            const char *names[3] = {"metric_id", "threshold_percent", "deadline_days"};
            for (int c = 0; c < 3 && rc == 0; c++) {
                if ((col[c] = column(&r, names[c])) < 0) {
                    snprintf(err, errlen, "%s:%lu: the header has no '%s' column", path, r.line,
                             names[c]);
                    rc = CDOF_EINVALID;
                }
            }
            continue;
        }
        rc = parse_policy(ref, path, &r, col, next, err, errlen);
    }
    if (rc == 0 && header) {
        snprintf(err, errlen,
                 "%s: empty (expected the header metric_id,threshold_percent,"
                 "deadline_days)",
                 path);
        rc = CDOF_EINVALID;
    }
    if (rc == 0)
        memcpy(policies, next, nm * sizeof *next);
    cdof_csv_destroy(&csv);
    free(next);
    fclose(f);
    return rc;
}
