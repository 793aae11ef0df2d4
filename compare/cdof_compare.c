#include "cdof_compare.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_error.h"

struct cdof_compare {
    cdof_compare_row_t *rows;
    size_t n;
};

/* Value and intervals from numerator and denominator, as the metric's method says. Rates and
 * proportions are always recomputed from the counts, never taken from a submitted value. */
static void evaluate(const cdof_metric_t *m, cdof_compare_row_t *r)
{
    r->has_interval = false;
    if (m->unit == CDOF_UNIT_COUNT && !r->fig.has_value && r->fig.has_numerator) {
        r->fig.has_value = true;
        r->fig.value = r->fig.numerator;
    }
    bool counts = r->fig.has_numerator && r->fig.has_denominator && r->fig.denominator > 0;
    if (counts && m->unit != CDOF_UNIT_COUNT) {
        r->fig.has_value = true;
        r->fig.value = r->fig.numerator / r->fig.denominator * m->multiplier;
    }
    if (!counts || !r->fig.has_value)
        return;
    cdof_interval_t a, b;
    if (m->method == CDOF_METHOD_WILSON) {
        if (cdof_stats_wilson(r->fig.numerator, r->fig.denominator, CDOF_Z_95, &a) == 0 &&
            cdof_stats_wilson(r->fig.numerator, r->fig.denominator, CDOF_Z_99_8, &b) == 0) {
            r->ci95 = (cdof_interval_t){a.lower * m->multiplier, a.upper * m->multiplier};
            r->ci998 = (cdof_interval_t){b.lower * m->multiplier, b.upper * m->multiplier};
            r->has_interval = true;
        }
    } else if (m->method == CDOF_METHOD_BYAR) {
        double k = m->multiplier / r->fig.denominator;
        if (cdof_stats_count_interval(r->fig.numerator, 0.95, &a) == 0 &&
            cdof_stats_count_interval(r->fig.numerator, 0.998, &b) == 0) {
            r->ci95 = (cdof_interval_t){a.lower * k, a.upper * k};
            r->ci998 = (cdof_interval_t){b.lower * k, b.upper * k};
            r->has_interval = true;
        }
    }
}

/* The benchmark values and verdicts of r against England and its region (either may be NULL). */
static void set_verdicts(const cdof_metric_t *m, cdof_compare_row_t *r,
                         const cdof_compare_row_t *eng, const cdof_compare_row_t *reg)
{
    cdof_stats_polarity_t pol = (cdof_stats_polarity_t)m->polarity;
    if (eng && eng->fig.has_value) {
        r->england_value = eng->fig.value;
        r->vs_england = r->has_interval
                            ? cdof_stats_benchmark(eng->fig.value, &r->ci95, &r->ci998, pol)
                            : CDOF_VERDICT_NOT_COMPARED;
    }
    if (reg && reg->fig.has_value) {
        r->region_value = reg->fig.value;
        r->vs_region = r->has_interval
                           ? cdof_stats_benchmark(reg->fig.value, &r->ci95, &r->ci998, pol)
                           : CDOF_VERDICT_NOT_COMPARED;
    }
}

static void set_input(cdof_compare_row_t *r, const cdof_compare_input_t *in)
{
    memset(r, 0, sizeof *r);
    r->area = in->area;
    r->submitted = true;
    r->fig = in->fig;
    r->england_value = NAN;
    r->region_value = NAN;
    r->received_ms = in->received_ms;
    r->partnership = in->area->code;
    r->trend =
        (cdof_trend_result_t){.direction = CDOF_TREND_NONE, .slope = NAN, .se = NAN, .chi2 = NAN};
    r->baseline_value = NAN;
    r->trajectory_value = NAN;
}

typedef struct {
    double num, den;
    size_t n;
    bool complete; /* every contributing area had numerator and denominator */
} sum_t;

/* Adds row r's counts into the aggregate s (a region, England or a partnership). */
static void sum_add(sum_t *s, const cdof_metric_t *m, const cdof_compare_row_t *r)
{
    if (s->n == 0)
        s->complete = true;
    s->n++;
    if (r->fig.has_numerator && (r->fig.has_denominator || m->unit == CDOF_UNIT_COUNT)) {
        s->num += r->fig.numerator;
        s->den += r->fig.has_denominator ? r->fig.denominator : 0;
    } else if (m->unit == CDOF_UNIT_COUNT && r->fig.has_value) {
        s->num += r->fig.value;
    } else {
        s->complete = false;
    }
}

/* An aggregate row built from sums; false when there is nothing (complete) to build. */
static bool sum_row(const cdof_metric_t *m, const cdof_area_t *area, const sum_t *s,
                    cdof_compare_row_t *r)
{
    if (s->n == 0 || !s->complete)
        return false;
    cdof_compare_input_t agg = {.area = area, .fig = {.has_numerator = true, .numerator = s->num}};
    if (m->unit == CDOF_UNIT_COUNT) {
        agg.fig.has_value = true;
        agg.fig.value = s->num;
    } else {
        agg.fig.has_denominator = true;
        agg.fig.denominator = s->den;
    }
    set_input(r, &agg);
    r->submitted = false;
    return true;
}

/* past() answers 0 (found), CDOF_ENOTFOUND (none) or a failure, which stops the run. */
static int ask_past(cdof_compare_past_fn past, void *ctx, const cdof_area_t *area,
                    const cdof_period_t *p, cdof_compare_past_t *out, bool *found)
{
    memset(out, 0, sizeof *out);
    int rc = past(ctx, area, p, out);
    *found = rc == 0;
    return rc == CDOF_ENOTFOUND ? 0 : rc;
}

int cdof_compare_row_trend(const cdof_metric_t *m, const cdof_period_t *p, cdof_compare_row_t *r,
                           cdof_compare_past_fn past, void *ctx)
{
    r->trend =
        (cdof_trend_result_t){.direction = CDOF_TREND_NONE, .slope = NAN, .se = NAN, .chi2 = NAN};
    r->worse_and_getting_worse = false;
    /* Pooled periods overlap and counts have no interval: neither gets a trend. */
    if (!past || p->kind == CDOF_PERIOD_POOLED_YEARS || m->method == CDOF_METHOD_NONE ||
        !r->fig.has_value || !r->has_interval)
        return 0;
    double values[5];
    cdof_interval_t ci[5];
    values[4] = r->fig.value;
    ci[4] = r->ci95;
    cdof_period_t q = *p;
    for (int i = 3; i >= 0; i--) {
        cdof_compare_past_t pt;
        bool found;
        if (cdof_period_prev(&q, &q) < 0)
            return 0;
        int rc = ask_past(past, ctx, r->area, &q, &pt, &found);
        if (rc < 0)
            return rc;
        /* The five most recent periods must be unbroken: a gap means no trend. */
        if (!found || !pt.has_value || !pt.has_interval)
            return 0;
        values[i] = pt.value;
        ci[i] = pt.ci95;
    }
    cdof_stats_trend(values, ci, 5, (cdof_stats_polarity_t)m->polarity, &r->trend);
    r->worse_and_getting_worse =
        cdof_stats_verdict_is_worse(r->vs_england) && r->trend.getting_worse;
    return 0;
}

/* Counts without a denominator: the same period a year earlier, and that grown by the national
 * commitment, each tested against the count's own interval (exact below 10, Byar from 10). */
static int baseline(const cdof_metric_t *m, const cdof_compare_opts_t *o, cdof_compare_row_t *r)
{
    if (m->unit != CDOF_UNIT_COUNT || r->fig.has_denominator || !r->fig.has_value || !o->past ||
        !o->period)
        return 0;
    cdof_period_t ye;
    cdof_compare_past_t pt;
    bool found;
    if (cdof_period_year_earlier(o->period, &ye) < 0)
        return 0;
    int rc = ask_past(o->past, o->past_ctx, r->area, &ye, &pt, &found);
    if (rc < 0 || !found || !pt.has_value)
        return rc;
    r->has_baseline = true;
    r->baseline_value = pt.value;
    cdof_interval_t a, b;
    if (cdof_stats_count_interval(r->fig.value, 0.95, &a) < 0 ||
        cdof_stats_count_interval(r->fig.value, 0.998, &b) < 0)
        return 0;
    cdof_stats_polarity_t pol = (cdof_stats_polarity_t)m->polarity;
    r->vs_baseline = cdof_stats_benchmark(pt.value, &a, &b, pol);
    if (isfinite(o->trajectory_change)) {
        r->has_trajectory = true;
        r->trajectory_value = pt.value * (1.0 + o->trajectory_change);
        r->vs_trajectory = cdof_stats_benchmark(r->trajectory_value, &a, &b, pol);
    }
    return 0;
}

int cdof_compare_run_opts(const cdof_ref_t *ref, const cdof_metric_t *m,
                          const cdof_compare_input_t *in, size_t n, const cdof_compare_opts_t *opts,
                          cdof_compare_t **out)
{
    static const cdof_compare_opts_t none = {.trajectory_change = NAN};
    const cdof_compare_opts_t *o = opts ? opts : &none;
    size_t nareas = cdof_ref_area_count(ref), np = o->npartnerships;
    int rc = -ENOMEM;
    *out = NULL;
    cdof_compare_t *c = calloc(1, sizeof *c);
    cdof_compare_row_t *rows = calloc(n + nareas + np + 1, sizeof *rows);
    sum_t *sums = calloc(nareas + np, sizeof *sums);
    double *vals = calloc(n + 1, sizeof *vals), *scratch = calloc(n + 1, sizeof *scratch);
    int *quint = calloc(n + 1, sizeof *quint);
    const cdof_compare_row_t **by_area = calloc(nareas, sizeof *by_area);
    const cdof_partnership_t **member_of = calloc(nareas, sizeof *member_of);
    if (!c || !rows || !sums || !vals || !scratch || !quint || !by_area || !member_of)
        goto fail;
    c->rows = rows;
    for (size_t k = 0; k < np; k++) {
        for (size_t j = 0; j < o->partnerships[k].nmembers; j++)
            member_of[o->partnerships[k].members[j]->index] = &o->partnerships[k];
    }
    const cdof_area_t *eng_area = cdof_ref_area(ref, CDOF_ENGLAND_CODE);

    /* UTLAs first, and sums of their counts into their region, England and partnership. */
    for (size_t i = 0; i < n; i++) {
        if (in[i].area->kind != CDOF_AREA_UTLA)
            continue;
        cdof_compare_row_t *r = &rows[c->n++];
        set_input(r, &in[i]);
        evaluate(m, r);
        by_area[r->area->index] = r;
        const cdof_area_t *reg = cdof_ref_area(ref, r->area->region_code);
        if (reg)
            sum_add(&sums[reg->index], m, r);
        if (eng_area)
            sum_add(&sums[eng_area->index], m, r);
        const cdof_partnership_t *pp = member_of[r->area->index];
        if (pp) {
            r->partnership = pp->area.code;
            sum_add(&sums[nareas + (size_t)(pp - o->partnerships)], m, r);
        }
    }
    /* A submitted England or region figure is the benchmark; otherwise the sum of its areas. */
    for (size_t a = 0; a < nareas; a++) {
        const cdof_area_t *area = cdof_ref_area_at(ref, a);
        if (area->kind == CDOF_AREA_UTLA)
            continue;
        const cdof_compare_input_t *sub = NULL;
        for (size_t i = 0; i < n; i++) {
            if (in[i].area == area)
                sub = &in[i];
        }
        cdof_compare_row_t *r = &rows[c->n];
        if (sub)
            set_input(r, sub);
        else if (!sum_row(m, area, &sums[a], r))
            continue;
        evaluate(m, r);
        by_area[a] = r;
        c->n++;
    }
    size_t first_partnership = c->n;
    for (size_t k = 0; k < np; k++) {
        cdof_compare_row_t *r = &rows[c->n];
        if (!sum_row(m, &o->partnerships[k].area, &sums[nareas + k], r))
            continue;
        evaluate(m, r);
        c->n++;
    }

    const cdof_compare_row_t *eng = eng_area ? by_area[eng_area->index] : NULL;
    size_t nutla = 0;
    for (size_t i = 0; i < c->n; i++) {
        cdof_compare_row_t *r = &rows[i];
        if (r->area->kind != CDOF_AREA_UTLA && i < first_partnership)
            continue;
        const cdof_area_t *reg_area =
            r->area->region_code ? cdof_ref_area(ref, r->area->region_code) : NULL;
        set_verdicts(m, r, eng, reg_area ? by_area[reg_area->index] : NULL);
        if (r->area->kind == CDOF_AREA_UTLA)
            vals[nutla++] = r->fig.has_value ? r->fig.value : NAN;
    }
    if (nutla >= 5 && m->unit != CDOF_UNIT_COUNT &&
        cdof_stats_quintiles(vals, nutla, (cdof_stats_polarity_t)m->polarity, scratch, quint) ==
            0) {
        size_t k = 0;
        for (size_t i = 0; i < c->n; i++) {
            if (rows[i].area->kind == CDOF_AREA_UTLA)
                rows[i].quintile = quint[k++];
        }
    }
    rc = 0;
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        if (o->trend && o->period)
            rc = cdof_compare_row_trend(m, o->period, &rows[i], o->past, o->past_ctx);
        if (rc == 0)
            rc = baseline(m, o, &rows[i]);
    }
    if (rc < 0)
        goto fail;
    *out = c;
done:
    free(sums);
    free(vals);
    free(scratch);
    free(quint);
    free(by_area);
    free(member_of);
    return rc;
fail:
    free(rows);
    free(c);
    goto done;
}

cdof_compare_t *cdof_compare_run(const cdof_ref_t *ref, const cdof_metric_t *m,
                                 const cdof_compare_input_t *in, size_t n)
{
    cdof_compare_t *c = NULL;
    cdof_compare_run_opts(ref, m, in, n, NULL, &c);
    return c;
}

int cdof_compare_from_rows(const cdof_compare_row_t *rows, size_t n, cdof_compare_t **out)
{
    cdof_compare_t *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c || !(c->rows = malloc((n ? n : 1) * sizeof *c->rows))) {
        free(c);
        return -ENOMEM;
    }
    if (n) /* rows may be NULL when there are none (a period still settling) */
        memcpy(c->rows, rows, n * sizeof *rows);
    c->n = n;
    *out = c;
    return 0;
}

void cdof_compare_destroy(cdof_compare_t **c)
{
    if (!c || !*c)
        return;
    free((*c)->rows);
    free(*c);
    *c = NULL;
}

size_t cdof_compare_count(const cdof_compare_t *c)
{
    return c->n;
}

const cdof_compare_row_t *cdof_compare_row(const cdof_compare_t *c, size_t i)
{
    return i < c->n ? &c->rows[i] : NULL;
}

cdof_compare_row_t *cdof_compare_row_mut(cdof_compare_t *c, size_t i)
{
    return i < c->n ? &c->rows[i] : NULL;
}

const cdof_compare_row_t *cdof_compare_find(const cdof_compare_t *c, const char *area_code)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->rows[i].area->code, area_code) == 0)
            return &c->rows[i];
    }
    return NULL;
}

int cdof_compare_group(const cdof_compare_t *c, const cdof_ref_t *ref, const cdof_metric_t *m,
                       const char *const *codes, size_t n, cdof_compare_row_t *out)
{
    memset(out, 0, sizeof *out);
    out->england_value = out->region_value = NAN;
    if (n == 0)
        return -EINVAL;
    sum_t s = {0};
    const cdof_area_t *first = NULL;
    bool one_region = true;
    for (size_t i = 0; i < n; i++) {
        const cdof_compare_row_t *r = cdof_compare_find(c, codes[i]);
        if (!r || r->area->kind != CDOF_AREA_UTLA)
            return CDOF_ENOTFOUND;
        if (!first)
            first = r->area;
        else if (strcmp(r->area->region_code, first->region_code) != 0)
            one_region = false;
        sum_add(&s, m, r);
    }
    /* As the regional sums: counts where there are counts, values of count metrics. */
    if (!sum_row(m, first, &s, out))
        return CDOF_ENOTFOUND;
    evaluate(m, out);
    const cdof_area_t *reg_area = one_region ? cdof_ref_area(ref, first->region_code) : NULL;
    set_verdicts(m, out, cdof_compare_find(c, CDOF_ENGLAND_CODE),
                 reg_area ? cdof_compare_find(c, reg_area->code) : NULL);
    return 0;
}
