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
    if (m->unit == CDOF_UNIT_COUNT && !r->has_value && r->has_numerator) {
        r->has_value = true;
        r->value = r->numerator;
    }
    bool counts = r->has_numerator && r->has_denominator && r->denominator > 0;
    if (counts && m->unit != CDOF_UNIT_COUNT) {
        r->has_value = true;
        r->value = r->numerator / r->denominator * m->multiplier;
    }
    if (!counts || !r->has_value)
        return;
    cdof_interval_t a, b;
    if (m->method == CDOF_METHOD_WILSON) {
        if (cdof_stats_wilson(r->numerator, r->denominator, CDOF_Z_95, &a) == 0 &&
            cdof_stats_wilson(r->numerator, r->denominator, CDOF_Z_99_8, &b) == 0) {
            r->ci95 = (cdof_interval_t){a.lower * m->multiplier, a.upper * m->multiplier};
            r->ci998 = (cdof_interval_t){b.lower * m->multiplier, b.upper * m->multiplier};
            r->has_interval = true;
        }
    } else if (m->method == CDOF_METHOD_BYAR) {
        double k = m->multiplier / r->denominator;
        if (cdof_stats_count_interval(r->numerator, 0.95, &a) == 0 &&
            cdof_stats_count_interval(r->numerator, 0.998, &b) == 0) {
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
    if (eng && eng->has_value) {
        r->england_value = eng->value;
        r->vs_england = r->has_interval ? cdof_stats_benchmark(eng->value, &r->ci95, &r->ci998, pol)
                                        : CDOF_VERDICT_NOT_COMPARED;
    }
    if (reg && reg->has_value) {
        r->region_value = reg->value;
        r->vs_region = r->has_interval ? cdof_stats_benchmark(reg->value, &r->ci95, &r->ci998, pol)
                                       : CDOF_VERDICT_NOT_COMPARED;
    }
}

static void set_input(cdof_compare_row_t *r, const cdof_compare_input_t *in)
{
    memset(r, 0, sizeof *r);
    r->area = in->area;
    r->submitted = true;
    r->has_numerator = in->has_numerator;
    r->numerator = in->numerator;
    r->has_denominator = in->has_denominator;
    r->denominator = in->denominator;
    r->has_value = in->has_value;
    r->value = in->value;
    r->england_value = NAN;
    r->region_value = NAN;
    r->received_ms = in->received_ms;
}

typedef struct {
    double num, den;
    size_t n;
    bool complete; /* every contributing area had numerator and denominator */
} sum_t;

cdof_compare_t *cdof_compare_run(const cdof_ref_t *ref, const cdof_metric_t *m,
                                 const cdof_compare_input_t *in, size_t n)
{
    size_t nareas = cdof_ref_area_count(ref);
    cdof_compare_t *c = calloc(1, sizeof *c);
    cdof_compare_row_t *rows = calloc(n + nareas + 1, sizeof *rows);
    sum_t *sums = calloc(nareas, sizeof *sums);
    double *vals = calloc(n + 1, sizeof *vals), *scratch = calloc(n + 1, sizeof *scratch);
    int *quint = calloc(n + 1, sizeof *quint);
    const cdof_compare_row_t **by_area = calloc(nareas, sizeof *by_area);
    if (!c || !rows || !sums || !vals || !scratch || !quint || !by_area)
        goto fail;
    c->rows = rows;

    /* UTLAs first, and sums of their counts into their region and England. */
    for (size_t i = 0; i < n; i++) {
        if (in[i].area->kind != CDOF_AREA_UTLA)
            continue;
        cdof_compare_row_t *r = &rows[c->n++];
        set_input(r, &in[i]);
        evaluate(m, r);
        by_area[r->area->index] = r;
        const cdof_area_t *reg = cdof_ref_area(ref, r->area->region_code);
        const cdof_area_t *eng = cdof_ref_area(ref, CDOF_ENGLAND_CODE);
        const cdof_area_t *targets[2] = {reg, eng};
        for (int t = 0; t < 2; t++) {
            if (!targets[t])
                continue;
            sum_t *s = &sums[targets[t]->index];
            if (s->n == 0)
                s->complete = true;
            s->n++;
            if (r->has_numerator && (r->has_denominator || m->unit == CDOF_UNIT_COUNT)) {
                s->num += r->numerator;
                s->den += r->has_denominator ? r->denominator : 0;
            } else if (m->unit == CDOF_UNIT_COUNT && r->has_value) {
                s->num += r->value;
            } else {
                s->complete = false;
            }
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
        if (sub) {
            set_input(r, sub);
        } else if (sums[a].n > 0 && sums[a].complete) {
            cdof_compare_input_t agg = {
                .area = area, .has_numerator = true, .numerator = sums[a].num};
            if (m->unit == CDOF_UNIT_COUNT) {
                agg.has_value = true;
                agg.value = sums[a].num;
            } else {
                agg.has_denominator = true;
                agg.denominator = sums[a].den;
            }
            set_input(r, &agg);
            r->submitted = false;
        } else {
            continue;
        }
        evaluate(m, r);
        by_area[a] = r;
        c->n++;
    }

    const cdof_compare_row_t *eng = NULL;
    const cdof_area_t *eng_area = cdof_ref_area(ref, CDOF_ENGLAND_CODE);
    if (eng_area)
        eng = by_area[eng_area->index];
    size_t nutla = 0;
    for (size_t i = 0; i < c->n; i++) {
        cdof_compare_row_t *r = &rows[i];
        if (r->area->kind != CDOF_AREA_UTLA)
            continue;
        const cdof_area_t *reg_area = cdof_ref_area(ref, r->area->region_code);
        const cdof_compare_row_t *reg = reg_area ? by_area[reg_area->index] : NULL;
        set_verdicts(m, r, eng, reg);
        vals[nutla++] = r->has_value ? r->value : NAN;
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
done:
    free(sums);
    free(vals);
    free(scratch);
    free(quint);
    free(by_area);
    return c;
fail:
    free(rows);
    free(c);
    c = NULL;
    goto done;
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
    double num = 0, den = 0;
    bool one_region = true;
    for (size_t i = 0; i < n; i++) {
        const cdof_compare_row_t *r = cdof_compare_find(c, codes[i]);
        if (!r || r->area->kind != CDOF_AREA_UTLA)
            return CDOF_ENOTFOUND;
        if (i == 0)
            out->area = r->area;
        else if (strcmp(r->area->region_code, out->area->region_code) != 0)
            one_region = false;
        /* As the regional sums above: counts where there are counts, values of count metrics. */
        if (r->has_numerator && (r->has_denominator || m->unit == CDOF_UNIT_COUNT)) {
            num += r->numerator;
            den += r->has_denominator ? r->denominator : 0;
        } else if (m->unit == CDOF_UNIT_COUNT && r->has_value) {
            num += r->value;
        } else {
            return CDOF_ENOTFOUND;
        }
    }
    out->has_numerator = true;
    out->numerator = num;
    if (m->unit == CDOF_UNIT_COUNT) {
        out->has_value = true;
        out->value = num;
    } else {
        out->has_denominator = true;
        out->denominator = den;
    }
    evaluate(m, out);
    const cdof_area_t *reg_area = one_region ? cdof_ref_area(ref, out->area->region_code) : NULL;
    set_verdicts(m, out, cdof_compare_find(c, CDOF_ENGLAND_CODE),
                 reg_area ? cdof_compare_find(c, reg_area->code) : NULL);
    return 0;
}
