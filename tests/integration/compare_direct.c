/* compare_direct: the comparison for one metric and period computed straight from a dataset CSV
 * with cdof_compare, without agents, hub, store or network, for the end-to-end test to hold the
 * hub's stored rows against. Its own summing of rolling windows and pooled years, and its own
 * history for trends and baselines (recomputed from the dataset, not read from any store).
 *
 *   compare_direct --refdir DIR [--partnerships FILE] [--trajectory PCT] [--rolling]
 *                  DATA.csv METRIC PERIOD
 *
 * prints CSV, one row per upper-tier area in code order:
 *   area_code,value,lower_95,upper_95,lower_99_8,upper_99_8,vs_england,vs_region,quintile,
 *   trend,worse_and_getting_worse,partnership,vs_baseline,vs_trajectory */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_compare.h"
#include "cdof_error.h"
#include "cdof_partnerships.h"
#include "cdof_wire.h"

#define MAX_ROWS  400000
#define MAX_PARTS 160

typedef struct {
    const cdof_area_t *area;
    cdof_period_t period;
    bool has_num, has_den, has_val;
    double num, den, val;
} drow_t;

static const cdof_ref_t *ref;
static const cdof_metric_t *metric;
static drow_t *rows;
static size_t nrows;
static cdof_partnership_t parts[MAX_PARTS];
static size_t nparts;

static bool same(const cdof_period_t *a, const cdof_period_t *b)
{
    return a->kind == b->kind && a->first_day == b->first_day && a->last_day == b->last_day;
}

static int split(char *line, char **f, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static int load_data(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -errno;
    rows = calloc(MAX_ROWS, sizeof *rows);
    char line[512], err[256];
    int lineno = 0;
    while (rows && fgets(line, sizeof line, fp) && nrows < MAX_ROWS) {
        char *f[7];
        if (++lineno == 1 || split(line, f, 7) < 6 || strcmp(f[0], metric->id) != 0)
            continue;
        drow_t *r = &rows[nrows];
        r->area = cdof_ref_area(ref, f[1]);
        if (!r->area || cdof_period_parse(f[2], &r->period, err, sizeof err) < 0) {
            fprintf(stderr, "%s:%d: %s\n", path, lineno, r->area ? err : "unknown area");
            fclose(fp);
            return -EINVAL;
        }
        r->has_num = *f[3], r->num = atof(f[3]);
        r->has_den = *f[4], r->den = atof(f[4]);
        r->has_val = *f[5], r->val = atof(f[5]);
        nrows++;
    }
    fclose(fp);
    return rows ? 0 : -ENOMEM;
}

static int load_parts(const char *path)
{
    static const cdof_area_t *members[MAX_PARTS][64];
    static char ids[MAX_PARTS][256]; /* as long as a line: an id always fits (GCC checks) */
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -errno;
    char line[sizeof ids[0]];
    int lineno = 0;
    while (fgets(line, sizeof line, fp)) {
        char *f[2];
        if (++lineno == 1 || split(line, f, 2) < 2)
            continue;
        size_t k = 0;
        while (k < nparts && strcmp(ids[k], f[0]) != 0)
            k++;
        if (k == nparts && nparts < MAX_PARTS) {
            snprintf(ids[k], sizeof ids[k], "%s", f[0]);
            parts[k] = (cdof_partnership_t){.area = {.index = UINT16_MAX,
                                                     .code = ids[k],
                                                     .name = ids[k],
                                                     .kind = CDOF_AREA_PARTNERSHIP},
                                            .members = members[k]};
            nparts++;
        }
        const cdof_area_t *a = cdof_ref_area(ref, f[1]);
        if (k < nparts && a && parts[k].nmembers < 64)
            members[k][parts[k].nmembers++] = a;
    }
    fclose(fp);
    /* Members in reference order and the shared region, as the hub keeps them. */
    for (size_t k = 0; k < nparts; k++) {
        const cdof_area_t **m = members[k];
        for (size_t i = 1; i < parts[k].nmembers; i++) {
            for (size_t j = i; j > 0 && m[j - 1]->index > m[j]->index; j--) {
                const cdof_area_t *t = m[j];
                m[j] = m[j - 1];
                m[j - 1] = t;
            }
        }
        const char *region = m[0]->region_code;
        for (size_t i = 0; i < parts[k].nmembers; i++) {
            if (region && strcmp(region, m[i]->region_code) != 0)
                region = NULL;
        }
        parts[k].area.region_code = region;
    }
    return 0;
}

static cdof_period_t month(int idx)
{
    int y = idx / 12, mo = idx % 12 + 1;
    return (cdof_period_t){CDOF_PERIOD_MONTH, cdof_days_from_civil(y, mo, 1),
                           cdof_days_from_civil(mo == 12 ? y + 1 : y, mo == 12 ? 1 : mo + 1, 1) -
                               1};
}

/* Inputs for period p: the rows of p; or sums of twelve months; or, for a pooled period of a
 * pooled metric, an area's pooled row else the sum of its three years. */
static size_t inputs(const cdof_period_t *p, bool rolling, cdof_compare_input_t *in)
{
    size_t nareas = cdof_ref_area_count(ref), n = 0;
    int y1, mo, d, y2;
    cdof_civil_from_days(p->first_day, &y1, &mo, &d);
    cdof_civil_from_days(p->last_day, &y2, &mo, &d);
    bool pooled = metric->frequency == CDOF_FREQ_POOLED3 && p->kind == CDOF_PERIOD_POOLED_YEARS &&
                  y2 - y1 == 2;
    cdof_period_t parts_of[12];
    int nparts_of = 0;
    if (rolling) {
        cdof_civil_from_days(p->first_day, &y1, &mo, &d);
        for (int i = 0; i < 12; i++)
            parts_of[nparts_of++] = month(y1 * 12 + mo - 1 - 11 + i);
    } else if (pooled) {
        for (int y = y1; y <= y2; y++)
            parts_of[nparts_of++] =
                (cdof_period_t){CDOF_PERIOD_CALENDAR_YEAR, cdof_days_from_civil(y, 1, 1),
                                cdof_days_from_civil(y, 12, 31)};
    }
    for (size_t a = 0; a < nareas; a++) {
        const cdof_area_t *area = cdof_ref_area_at(ref, a);
        cdof_compare_input_t x = {.area = area};
        int found = 0;
        for (size_t i = 0; i < nrows; i++) {
            if (rows[i].area == area && same(&rows[i].period, p) && !rolling) {
                x = (cdof_compare_input_t){area,
                                           {rows[i].has_num, rows[i].has_den, rows[i].has_val,
                                            rows[i].num, rows[i].den, rows[i].val},
                                           0};
                found = -1;
            }
        }
        for (int k = 0; found >= 0 && k < nparts_of; k++) {
            for (size_t i = 0; i < nrows; i++) {
                if (rows[i].area != area || !same(&rows[i].period, &parts_of[k]))
                    continue;
                x.fig.has_numerator =
                    found ? x.fig.has_numerator && rows[i].has_num : rows[i].has_num;
                x.fig.has_denominator =
                    found ? x.fig.has_denominator && rows[i].has_den : rows[i].has_den;
                x.fig.has_value = found ? x.fig.has_value && rows[i].has_val : rows[i].has_val;
                x.fig.numerator += rows[i].num;
                x.fig.denominator += rows[i].den;
                x.fig.value += rows[i].val;
                found++;
            }
        }
        if (found == -1 || (nparts_of && found == nparts_of))
            in[n++] = x;
    }
    return n;
}

/* Comparisons of earlier periods, computed once each (every row asks for the same few). */
static struct {
    cdof_period_t p;
    cdof_compare_t *c;
} cache[64];
static size_t ncache;

static int past(void *ctx, const cdof_area_t *area, const cdof_period_t *p,
                cdof_compare_past_t *out)
{
    (void)ctx;
    cdof_compare_t *c = NULL;
    for (size_t k = 0; k < ncache && !c; k++)
        c = same(&cache[k].p, p) ? cache[k].c : NULL;
    if (!c) {
        if (ncache == sizeof cache / sizeof cache[0])
            return -ENOSPC;
        cdof_compare_input_t *in = calloc(cdof_ref_area_count(ref), sizeof *in);
        if (!in)
            return -ENOMEM;
        size_t n = inputs(p, false, in);
        cdof_compare_opts_t o = {
            .partnerships = parts, .npartnerships = nparts, .trajectory_change = NAN};
        int rc = cdof_compare_run_opts(ref, metric, in, n, &o, &c);
        free(in);
        if (rc < 0)
            return rc;
        cache[ncache].p = *p;
        cache[ncache++].c = c;
    }
    const cdof_compare_row_t *r = cdof_compare_find(c, area->code);
    if (!r)
        return CDOF_ENOTFOUND;
    *out = (cdof_compare_past_t){r->fig.has_value, r->has_interval, r->fig.value, r->ci95};
    return 0;
}

static void num(double v, bool have)
{
    if (have && isfinite(v))
        printf("%.17g", v);
}

int main(int argc, char **argv)
{
    const char *refdir = NULL, *pfile = NULL;
    bool rolling = false;
    double trajectory = NAN;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (!strcmp(argv[i], "--rolling"))
            rolling = true;
        else if (!strcmp(argv[i], "--refdir") && i + 1 < argc)
            refdir = argv[++i];
        else if (!strcmp(argv[i], "--partnerships") && i + 1 < argc)
            pfile = argv[++i];
        else if (!strcmp(argv[i], "--trajectory") && i + 1 < argc)
            trajectory = atof(argv[++i]) / 100.0;
    }
    if (!refdir || argc - i != 3) {
        fprintf(stderr, "usage: compare_direct --refdir DIR [--partnerships FILE] "
                        "[--trajectory PCT] [--rolling] DATA.csv METRIC PERIOD\n");
        return 2;
    }
    char err[512];
    cdof_ref_t *r = cdof_ref_load(refdir, err, sizeof err);
    cdof_period_t p;
    if (!r || !(metric = cdof_ref_metric(r, argv[i + 1])) ||
        cdof_period_parse(argv[i + 2], &p, err, sizeof err) < 0) {
        fprintf(stderr, "compare_direct: %s\n", r && !metric ? "unknown metric" : err);
        cdof_ref_destroy(&r);
        return 2;
    }
    ref = r;
    int rc = load_data(argv[i]);
    if (rc == 0 && pfile)
        rc = load_parts(pfile);
    cdof_compare_input_t *in = calloc(cdof_ref_area_count(ref), sizeof *in);
    cdof_compare_t *c = NULL;
    if (rc == 0 && in) {
        size_t n = inputs(&p, rolling, in);
        cdof_compare_opts_t o = {.period = &p,
                                 .partnerships = parts,
                                 .npartnerships = nparts,
                                 .past = rolling ? NULL : past,
                                 .trend = !rolling,
                                 .trajectory_change = trajectory};
        rc = cdof_compare_run_opts(ref, metric, in, n, &o, &c);
    }
    static const char *const trends[] = {"", "no_significant_change", "increasing", "decreasing"};
    if (rc == 0) {
        printf("area_code,value,lower_95,upper_95,lower_99_8,upper_99_8,vs_england,vs_region,"
               "quintile,trend,worse_and_getting_worse,partnership,vs_baseline,vs_trajectory\n");
        for (size_t a = 0; a < cdof_ref_area_count(ref); a++) {
            const cdof_compare_row_t *row = cdof_compare_find(c, cdof_ref_area_at(ref, a)->code);
            if (!row || row->area->kind != CDOF_AREA_UTLA)
                continue;
            printf("%s,", row->area->code);
            num(row->fig.value, row->fig.has_value);
            printf(",");
            num(row->ci95.lower, row->has_interval);
            printf(",");
            num(row->ci95.upper, row->has_interval);
            printf(",");
            num(row->ci998.lower, row->has_interval);
            printf(",");
            num(row->ci998.upper, row->has_interval);
            printf(",%s,%s,", cdof_wire_verdict_name((Cdof__V1__Verdict)row->vs_england),
                   cdof_wire_verdict_name((Cdof__V1__Verdict)row->vs_region));
            if (row->quintile)
                printf("%d", row->quintile);
            printf(",%s,%s,%s,%s,%s\n", trends[row->trend.direction],
                   row->worse_and_getting_worse ? "true" : "false", row->partnership,
                   cdof_wire_verdict_name((Cdof__V1__Verdict)row->vs_baseline),
                   cdof_wire_verdict_name((Cdof__V1__Verdict)row->vs_trajectory));
        }
    } else {
        fprintf(stderr, "compare_direct: %s\n", cdof_strerror(rc));
    }
    cdof_compare_destroy(&c);
    for (size_t k = 0; k < ncache; k++)
        cdof_compare_destroy(&cache[k].c);
    free(in);
    free(rows);
    cdof_ref_destroy(&r);
    return rc == 0 ? 0 : 1;
}
