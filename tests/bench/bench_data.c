#include "bench_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdof_period.h"

typedef struct {
    const cdof_metric_t *metric;
    cdof_period_t period;
} slot_t;

struct bench_gen {
    const cdof_ref_t *ref;
    slot_t *slots; /* every (metric, period) of one pass, period by period */
    size_t nslots;
    const cdof_area_t **areas; /* this agent's areas */
    size_t nareas;
    uint64_t quota, made;
    size_t slot, area; /* position in the pass */
    unsigned pass;
};

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Uniform in [0, 1) from the given keys. */
static double unit(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    return (double)(mix(a ^ mix(b ^ mix(c ^ mix(d)))) >> 11) / 9007199254740992.0;
}

uint64_t bench_quota(uint64_t total, unsigned agent, unsigned nagents)
{
    return total / nagents + (agent < total % nagents ? 1 : 0);
}

void bench_agent_id(unsigned k, char *buf, size_t len)
{
    snprintf(buf, len, "bench-%03u", k);
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The periods of metric m that end with month t (0 = January of BENCH_YEAR_FIRST). */
static size_t periods_ending(const cdof_metric_t *m, int t, cdof_period_t *out)
{
    int year = BENCH_YEAR_FIRST + t / 12, month = t % 12 + 1;
    char text[CDOF_PERIOD_TEXT_MAX], err[128];
    text[0] = 0;
    switch (m->frequency) {
    case CDOF_FREQ_MONTHLY:
        snprintf(text, sizeof text, "%04d-%02d", year, month);
        break;
    case CDOF_FREQ_QUARTERLY:
        if (month % 3 == 0)
            snprintf(text, sizeof text, "%04d-Q%d", year, month / 3);
        break;
    case CDOF_FREQ_ANNUAL:
    case CDOF_FREQ_POOLED3:
        if (month == 12)
            snprintf(text, sizeof text, "%04d", year);
        break;
    }
    return text[0] && cdof_period_parse(text, out, err, sizeof err) == 0 ? 1 : 0;
}

static int build_slots(bench_gen_t *g)
{
    size_t nm = cdof_ref_metric_count(g->ref), cap = nm * BENCH_MONTHS;
    if (!(g->slots = calloc(cap, sizeof *g->slots)))
        return -1;
    for (int t = 0; t < BENCH_MONTHS; t++) {
        for (size_t i = 0; i < nm; i++) {
            const cdof_metric_t *m = cdof_ref_metric_at(g->ref, i);
            if (strcmp(m->geography, "national") == 0)
                continue; /* England only: no area reports it */
            cdof_period_t p;
            if (periods_ending(m, t, &p))
                g->slots[g->nslots++] = (slot_t){m, p};
        }
    }
    return 0;
}

bench_gen_t *bench_gen_new(const cdof_ref_t *ref, unsigned agent, unsigned nagents, uint64_t quota)
{
    if (!ref || nagents == 0 || agent >= nagents)
        return NULL;
    bench_gen_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->ref = ref;
    g->quota = quota;
    size_t na = cdof_ref_area_count(ref), nutla = 0;
    if (!(g->areas = calloc(na, sizeof *g->areas)) || build_slots(g) < 0)
        goto fail;
    for (size_t i = 0; i < na; i++) {
        const cdof_area_t *a = cdof_ref_area_at(ref, i);
        if (a->kind != CDOF_AREA_UTLA)
            continue;
        if (nutla++ % nagents == agent)
            g->areas[g->nareas++] = a;
    }
    if (g->nareas == 0 || g->nslots == 0)
        goto fail;
    return g;
fail:
    bench_gen_destroy(&g);
    return NULL;
}

void bench_gen_destroy(bench_gen_t **g)
{
    if (!g || !*g)
        return;
    free((*g)->slots);
    free((*g)->areas);
    free(*g);
    *g = NULL;
}

/* Plausible figures: each area has its own level per metric (ua); each pass moves it a little
 * (noise), so a revision changes the stored value. */
static void fill_values(const cdof_metric_t *m, const cdof_area_t *a, const cdof_period_t *p,
                        unsigned pass, cdof_update_t *u)
{
    double ua = unit(a->index, m->index, 0, 0x5eed);
    double noise = unit(a->index, m->index, (uint64_t)p->first_day, pass) - 0.5;
    double pop = a->population > 1000 ? a->population : 100000;
    switch (m->method) {
    case CDOF_METHOD_WILSON: {
        double den = floor(20 + pop / 4000);
        u->fig.has_numerator = u->fig.has_denominator = true;
        u->fig.denominator = den;
        u->fig.numerator = floor(den * (0.30 + 0.25 * ua + 0.04 * noise));
        break;
    }
    case CDOF_METHOD_BYAR:
        u->fig.has_numerator = u->fig.has_denominator = true;
        u->fig.denominator = floor(pop);
        u->fig.numerator = floor(pop * 2e-4 * (0.5 + ua) * (1 + 0.1 * noise));
        break;
    case CDOF_METHOD_NONE:
        u->fig.has_value = true;
        if (m->unit == CDOF_UNIT_COUNT)
            u->fig.value = floor(pop / 5000 * (0.5 + ua) * (1 + 0.1 * noise));
        else
            u->fig.value = 5 + 10 * ua + noise;
        break;
    }
}

int bench_gen_next(bench_gen_t *g, cdof_update_t *u)
{
    /* A pass that yields nothing valid would loop for ever: give up after one such pass. */
    size_t tried = 0, limit = g->nslots * g->nareas + 1;
    while (g->made < g->quota && tried++ < limit) {
        const slot_t *s = &g->slots[g->slot];
        const cdof_area_t *a = g->areas[g->area];
        if (++g->area == g->nareas) {
            g->area = 0;
            if (++g->slot == g->nslots) {
                g->slot = 0;
                g->pass++;
            }
        }
        memset(u, 0, sizeof *u);
        u->metric_id = s->metric->id;
        u->area_code = a->code;
        u->period = s->period;
        fill_values(s->metric, a, &s->period, g->pass, u);
        char err[256];
        if (cdof_validate_update(g->ref, NULL, u, err, sizeof err) != 0)
            continue; /* e.g. a metric kept for another geography */
        g->made++;
        return 1;
    }
    return 0;
}

uint64_t bench_points_per_pass(const cdof_ref_t *ref)
{
    bench_gen_t *g = bench_gen_new(ref, 0, 1, UINT64_MAX);
    uint64_t n = 0;
    for (size_t s = 0; g && s < g->nslots; s++) {
        for (size_t i = 0; i < g->nareas; i++) {
            cdof_update_t u = {.metric_id = g->slots[s].metric->id,
                               .area_code = g->areas[i]->code,
                               .period = g->slots[s].period};
            fill_values(g->slots[s].metric, g->areas[i], &g->slots[s].period, 0, &u);
            char err[256];
            n += cdof_validate_update(ref, NULL, &u, err, sizeof err) == 0;
        }
    }
    bench_gen_destroy(&g);
    return n;
}
