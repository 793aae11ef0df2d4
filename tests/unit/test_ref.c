/* Reference data: the shipped files load with the right shape and totals, and every malformed
 * value in a copy of them is refused with a reason naming the file, line and field. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdof_period.h"
#include "cdof_ref.h"

static const char *const ref_files[4] = {"metrics.csv", "milestones.csv", "regions.csv",
                                         "areas.csv"};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void spill(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* Returns a copy of text with every occurrence (or only the first) of from replaced by to. */
static char *replace(const char *text, const char *from, const char *to, bool all)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = text; (p = strstr(p, from)); p += fl)
        n++;
    if (n == 0)
        fail_msg("'%s' not found in the reference text", from);
    char *out = malloc(strlen(text) + n * (tl + 1) + 1);
    assert_non_null(out);
    char *w = out;
    const char *p = text, *hit;
    while ((hit = strstr(p, from))) {
        memcpy(w, p, (size_t)(hit - p));
        w += hit - p;
        memcpy(w, to, tl);
        w += tl;
        p = hit + fl;
        if (!all)
            break;
    }
    strcpy(w, p);
    return out;
}

typedef struct {
    char dir[64];
} tmpref_t;

/* Copies the shipped files into a fresh temporary directory, replacing `from` by `to` in
 * `file` (NULL: no change). */
static void tmpref_make(tmpref_t *t, const char *file, const char *from, const char *to, bool all)
{
    strcpy(t->dir, "/tmp/cdof-test-ref-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    for (int i = 0; i < 4; i++) {
        char src[512], dst[512];
        snprintf(src, sizeof src, "%s/%s", CDOF_REF_DIR, ref_files[i]);
        snprintf(dst, sizeof dst, "%s/%s", t->dir, ref_files[i]);
        char *text = slurp(src);
        if (file && strcmp(file, ref_files[i]) == 0) {
            char *changed = replace(text, from, to, all);
            free(text);
            text = changed;
        }
        spill(dst, text);
        free(text);
    }
}

static void tmpref_remove(tmpref_t *t)
{
    for (int i = 0; i < 4; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", t->dir, ref_files[i]);
        unlink(p);
    }
    assert_int_equal(rmdir(t->dir), 0);
}

/* Loads a copy with one change and expects a failure whose reason is exactly want (or contains
 * it, when exact is false). */
static void expect_load_error(const char *file, const char *from, const char *to, bool all,
                              const char *want, bool exact)
{
    tmpref_t t;
    tmpref_make(&t, file, from, to, all);
    char err[512] = "";
    cdof_ref_t *ref = cdof_ref_load(t.dir, err, sizeof err);
    if (ref) {
        cdof_ref_destroy(&ref);
        tmpref_remove(&t);
        fail_msg("loaded despite '%s' -> '%s' in %s", from, to, file);
    }
    tmpref_remove(&t);
    if (exact ? strcmp(err, want) != 0 : !strstr(err, want))
        fail_msg("reason '%s', want %s'%s'", err, exact ? "" : "one containing ", want);
}

static cdof_ref_t *load_shipped(void)
{
    char err[512] = "";
    cdof_ref_t *ref = cdof_ref_load(CDOF_REF_DIR, err, sizeof err);
    if (!ref)
        fail_msg("%s", err);
    return ref;
}

static void test_shipped_shape(void **state)
{
    (void)state;
    cdof_ref_t *ref = load_shipped();
    assert_int_equal(cdof_ref_metric_count(ref), 29);
    assert_int_equal(cdof_ref_milestone_count(ref), 8);
    assert_int_equal(cdof_ref_area_count(ref), 1 + 9 + 153);
    size_t headline = 0;
    for (size_t i = 0; i < cdof_ref_metric_count(ref); i++) {
        const cdof_metric_t *m = cdof_ref_metric_at(ref, i);
        assert_non_null(m);
        assert_int_equal(m->index, i);
        assert_ptr_equal(cdof_ref_metric(ref, m->id), m);
        headline += m->headline;
    }
    assert_int_equal(headline, 11);
    for (size_t i = 0; i < cdof_ref_milestone_count(ref); i++) {
        const cdof_milestone_t *m = cdof_ref_milestone_at(ref, i);
        assert_ptr_equal(cdof_ref_milestone(ref, m->id), m);
    }
    for (size_t i = 0; i < cdof_ref_area_count(ref); i++) {
        const cdof_area_t *a = cdof_ref_area_at(ref, i);
        assert_non_null(a);
        assert_int_equal(a->index, i);
        assert_int_equal(strlen(a->code), CDOF_AREA_CODE_LEN);
        assert_ptr_equal(cdof_ref_area(ref, a->code), a);
        assert_int_equal(a->kind, i == 0   ? CDOF_AREA_ENGLAND
                                  : i < 10 ? CDOF_AREA_REGION
                                           : CDOF_AREA_UTLA);
    }
    assert_null(cdof_ref_metric_at(ref, 29));
    assert_null(cdof_ref_milestone_at(ref, 8));
    assert_null(cdof_ref_area_at(ref, 163));
    assert_null(cdof_ref_metric(ref, "no_such_metric"));
    assert_null(cdof_ref_metric(ref, ""));
    assert_null(cdof_ref_metric(ref, NULL));
    assert_null(cdof_ref_milestone(ref, "nope"));
    assert_null(cdof_ref_area(ref, "E06999999"));
    assert_null(cdof_ref_area(ref, "e06000001"));
    assert_null(cdof_ref_area(ref, NULL));
    assert_null(cdof_ref_area(NULL, "E06000001"));
    assert_int_equal(cdof_ref_area_count(NULL), 0);
    cdof_ref_destroy(&ref);
    assert_null(ref);
    cdof_ref_destroy(&ref); /* harmless twice */
    cdof_ref_destroy(NULL);
}

static void test_populations(void **state)
{
    (void)state;
    cdof_ref_t *ref = load_shipped();
    const cdof_area_t *england = cdof_ref_area(ref, CDOF_ENGLAND_CODE);
    assert_non_null(england);
    assert_string_equal(england->name, "England");
    assert_int_equal(england->kind, CDOF_AREA_ENGLAND);
    assert_null(england->region_code);
    assert_true(england->population == 56550138.0);
    assert_ptr_equal(cdof_ref_area_at(ref, 0), england);
    /* Each region is the sum of its areas; the regions sum to England. */
    double regions = 0;
    for (size_t r = 1; r < 10; r++) {
        const cdof_area_t *reg = cdof_ref_area_at(ref, r);
        assert_null(reg->region_code);
        double sum = 0;
        size_t n = 0;
        for (size_t i = 10; i < cdof_ref_area_count(ref); i++) {
            const cdof_area_t *a = cdof_ref_area_at(ref, i);
            assert_non_null(a->region_code);
            assert_non_null(cdof_ref_area(ref, a->region_code));
            if (strcmp(a->region_code, reg->code) == 0) {
                sum += a->population;
                n++;
            }
        }
        assert_true(n > 0);
        assert_true(reg->population == sum);
        regions += reg->population;
    }
    assert_true(regions == 56550138.0);
    const cdof_area_t *ne = cdof_ref_area(ref, "E12000001");
    assert_string_equal(ne->name, "North East");
    assert_true(ne->population == 2680763.0);
    const cdof_area_t *london = cdof_ref_area(ref, "E12000007");
    assert_string_equal(london->name, "London");
    assert_true(london->population == 9002488.0);
    const cdof_area_t *wm = cdof_ref_area(ref, "E09000033");
    assert_string_equal(wm->name, "Westminster");
    assert_string_equal(wm->region_code, "E12000007");
    assert_true(wm->population == 269848.0);
    /* The one quoted name in areas.csv keeps its comma. */
    const cdof_area_t *bcp = cdof_ref_area(ref, "E06000058");
    assert_string_equal(bcp->name, "Bournemouth, Christchurch and Poole");
    assert_string_equal(bcp->region_code, "E12000009");
    assert_true(bcp->population == 396989.0);
    cdof_ref_destroy(&ref);
}

static void test_metric_fields(void **state)
{
    (void)state;
    cdof_ref_t *ref = load_shipped();
    const cdof_metric_t *m = cdof_ref_metric(ref, "continuity_of_care");
    assert_non_null(m);
    assert_int_equal(m->index, 9);
    assert_true(m->headline);
    assert_string_equal(m->outcome, "increase_treatment");
    assert_int_equal(m->unit, CDOF_UNIT_PERCENTAGE);
    assert_true(m->multiplier == 100.0);
    assert_int_equal(m->polarity, CDOF_POLARITY_HIGH_GOOD);
    assert_string_equal(m->team, "hmpps");
    assert_string_equal(m->geography, "utla");
    assert_int_equal(m->frequency, CDOF_FREQ_MONTHLY);
    assert_int_equal(m->method, CDOF_METHOD_WILSON);
    m = cdof_ref_metric(ref, "ocu_prevalence");
    assert_int_equal(m->unit, CDOF_UNIT_RATE);
    assert_true(m->multiplier == 1000.0);
    assert_int_equal(m->polarity, CDOF_POLARITY_LOW_GOOD);
    assert_int_equal(m->method, CDOF_METHOD_NONE);
    m = cdof_ref_metric(ref, "drug_misuse_deaths");
    assert_int_equal(m->frequency, CDOF_FREQ_POOLED3);
    assert_int_equal(m->method, CDOF_METHOD_BYAR);
    assert_true(m->multiplier == 100000.0);
    m = cdof_ref_metric(ref, "county_lines_closed");
    assert_int_equal(m->unit, CDOF_UNIT_COUNT);
    assert_true(m->multiplier == 1.0);
    assert_string_equal(m->geography, "pfa");
    m = cdof_ref_metric(ref, "homelessness_drug_need");
    assert_false(m->headline);
    assert_int_equal(m->polarity, CDOF_POLARITY_NONE);
    assert_int_equal(m->frequency, CDOF_FREQ_QUARTERLY);
    m = cdof_ref_metric(ref, "drug_use_last_year");
    assert_string_equal(m->geography, "national");
    assert_string_equal(m->team, "jcdu");
    assert_int_equal(m->frequency, CDOF_FREQ_ANNUAL);
    const cdof_milestone_t *ms = cdof_ref_milestone(ref, "progress_report");
    assert_non_null(ms);
    assert_int_equal(ms->deadline, cdof_days_from_civil(2023, 4, 30));
    assert_int_equal(ms->recurrence_months, 12);
    ms = cdof_ref_milestone(ref, "needs_assessment");
    assert_int_equal(ms->recurrence_months, 36);
    ms = cdof_ref_milestone(ref, "sro_nominated");
    assert_int_equal(ms->recurrence_months, 0);
    assert_string_equal(ms->deliverable, "Senior Responsible Owner nominated");
    cdof_ref_destroy(&ref);
}

static void test_bad_metrics(void **state)
{
    (void)state;
    /* Line 12 is recovery_outcomes, the first row with this tail. */
    expect_load_error("metrics.csv", "100,high_good,ohid,utla,monthly,wilson",
                      "100,sideways,ohid,utla,monthly,wilson", false,
                      "metrics.csv:12: field 'polarity': 'sideways' is not high_good, low_good "
                      "or none",
                      true);
    expect_load_error("metrics.csv", ",headline,percentage,100,low_good,jcdu",
                      ",headline,proportion,100,low_good,jcdu", false,
                      "metrics.csv:2: field 'unit': 'proportion' is not count, rate or percentage",
                      true);
    expect_load_error("metrics.csv", "reduce_use,headline", "reduce_use,top", false,
                      "metrics.csv:2: field 'tier': 'top' is not headline or supporting", true);
    expect_load_error(
        "metrics.csv", "percentage,100,low_good,jcdu", "percentage,1,low_good,jcdu", false,
        "metrics.csv:2: field 'multiplier': '1' is not 100 (the unit is percentage)", true);
    expect_load_error("metrics.csv", "count,1,low_good,police,national",
                      "count,10,low_good,police,national", false,
                      "metrics.csv:4: field 'multiplier': '10' is not 1 (the unit is count)", true);
    expect_load_error("metrics.csv", "rate,1000,low_good,ohid", "rate,-5,low_good,ohid", false,
                      "metrics.csv:3: field 'multiplier': '-5' is not a positive number", true);
    expect_load_error("metrics.csv", "rate,1000,low_good,ohid", "rate,1e3x,low_good,ohid", false,
                      "field 'multiplier': '1e3x' is not a positive number", false);
    expect_load_error("metrics.csv", "rate,1000,low_good,ohid", "rate,,low_good,ohid", false,
                      "field 'multiplier': '' is not a positive number", false);
    expect_load_error("metrics.csv", "low_good,jcdu", "low_good,nhs", false,
                      "metrics.csv:2: field 'team': 'nhs' is not ohid, hmpps, police or jcdu",
                      true);
    expect_load_error("metrics.csv", "jcdu,national", "jcdu,galaxy", false,
                      "field 'geography': 'galaxy' is not national, region, utla, pfa or prison",
                      false);
    expect_load_error("metrics.csv", "national,annual,none", "national,weekly,none", false,
                      "metrics.csv:2: field 'frequency': 'weekly' is not monthly, quarterly, "
                      "annual or pooled3",
                      true);
    expect_load_error("metrics.csv", "national,annual,none", "national,annual,bayes", false,
                      "metrics.csv:2: field 'method': 'bayes' is not wilson, byar or none", true);
    expect_load_error("metrics.csv", "monthly,wilson", "monthly,byar", false,
                      "metrics.csv:11: field 'method': 'byar' needs unit rate", true);
    expect_load_error("metrics.csv", "pooled3,byar", "pooled3,wilson", false,
                      "metrics.csv:6: field 'method': 'wilson' needs unit percentage", true);
    expect_load_error("metrics.csv", "ocu_prevalence,", "drug_use_last_year,", false,
                      "metrics.csv:3: field 'id': 'drug_use_last_year' appears twice", true);
    expect_load_error("metrics.csv", "ocu_prevalence,", "OCU prevalence,", false,
                      "metrics.csv:3: field 'id': 'OCU prevalence' is not an id", false);
    expect_load_error("metrics.csv",
                      "ocu_prevalence,Prevalence of opiate and/or crack cocaine use per 1000 aged "
                      "15-64,",
                      "ocu_prevalence,,", false, "metrics.csv:3: field 'name': '' is empty", false);
    /* Plausibility columns. */
    expect_load_error("metrics.csv", "utla,annual,none,1.5,0,100", "utla,annual,none,0,0,100",
                      false, "field 'max_per_population': '0' is not a positive number", false);
    expect_load_error("metrics.csv", "utla,annual,none,1.5,0,100", "utla,annual,none,1.5,x,100",
                      false, "field 'plausible_min': 'x' is not a number", false);
    expect_load_error("metrics.csv", "utla,annual,none,1.5,0,100", "utla,annual,none,1.5,10,5",
                      false, "field 'plausible_max': '5' is below plausible_min", false);
    /* Structure: a missing column, a short row, an unclosed quote, no rows, no header. */
    expect_load_error("metrics.csv", ",polarity,", ",polarity_x,", false,
                      "metrics.csv:1: header has no column 'polarity'", true);
    expect_load_error("metrics.csv", "reduce_crime,headline,count,1,low_good,police,national",
                      "reduce_crime,headline,count,1,low_good,police", false,
                      "metrics.csv:4: expected 14 fields, found 13", true);
    expect_load_error(
        "metrics.csv", "Number of neighbourhood crimes", "\"Number of neighbourhood crimes", false,
        "metrics.csv:5: field 2: quoted field not closed before the end of the file", true);
    expect_load_error("metrics.csv", "Number of neighbourhood crimes",
                      "\"Number of neighbourhood\" crimes", false,
                      "metrics.csv:5: field 2: text after the closing quote", true);
    tmpref_t t;
    tmpref_make(&t, NULL, NULL, NULL, false);
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/metrics.csv", t.dir);
    spill(path, "id,name,outcome,tier,unit,multiplier,polarity,team,geography,frequency,method,"
                "max_per_population,plausible_min,plausible_max\n");
    assert_null(cdof_ref_load(t.dir, err, sizeof err));
    assert_string_equal(err, "metrics.csv: no metrics");
    spill(path, "");
    assert_null(cdof_ref_load(t.dir, err, sizeof err));
    assert_string_equal(err, "metrics.csv: empty file (a header row is required)");
    spill(path, "\n\r\n\n");
    assert_null(cdof_ref_load(t.dir, err, sizeof err));
    assert_string_equal(err, "metrics.csv: empty file (a header row is required)");
    tmpref_remove(&t);
}

static void test_bad_milestones_regions_areas(void **state)
{
    (void)state;
    expect_load_error("milestones.csv", "2022-09-30", "2022-09-31", false,
                      "milestones.csv:5: field 'deadline': '2022-09-31' is not a date (YYYY-MM-DD)",
                      true);
    expect_load_error("milestones.csv", "2022-11-30,36", "2022-11-30,three", false,
                      "milestones.csv:6: field 'recurrence_months': 'three' is not a whole number "
                      "from 0 to 120",
                      true);
    expect_load_error("milestones.csv", "2022-11-30,36", "2022-11-30,-1", false,
                      "field 'recurrence_months': '-1'", false);
    expect_load_error("milestones.csv", "2022-11-30,36", "2022-11-30,121", false,
                      "field 'recurrence_months': '121'", false);
    expect_load_error("milestones.csv", "partnership_formed,", "sro_nominated,", false,
                      "milestones.csv:3: field 'id': 'sro_nominated' appears twice", true);
    expect_load_error("milestones.csv", "id,deliverable,deadline", "id,deliverable,due", false,
                      "milestones.csv:1: header has no column 'deadline'", true);
    expect_load_error("regions.csv", "E12000004,", "W12000004,", false,
                      "regions.csv:5: field 'code': 'W12000004' is not a region code", false);
    expect_load_error("regions.csv", "E12000004,", "E12000003,", false,
                      "regions.csv:5: field 'code': 'E12000003' appears twice", true);
    expect_load_error("regions.csv", "E12000004,East Midlands", "E12000004,", false,
                      "regions.csv:5: field 'name': '' is empty", true);
    expect_load_error(
        "areas.csv", "E06000001,Hartlepool,E12000001,93836", "E06000001,Hartlepool,E12000099,93836",
        false, "areas.csv:2: field 'region': 'E12000099' is not a region in regions.csv", true);
    expect_load_error(
        "areas.csv", "E06000001,Hartlepool,E12000001,93836", "E06000001,Hartlepool,E12000001,lots",
        false, "areas.csv:2: field 'population_2020': 'lots' is not a positive whole number", true);
    expect_load_error("areas.csv", "E06000001,Hartlepool,E12000001,93836",
                      "E06000001,Hartlepool,E12000001,0", false,
                      "field 'population_2020': '0' is not a positive whole number", false);
    expect_load_error("areas.csv", "E06000002,", "E06000001,", false,
                      "areas.csv:3: field 'code': 'E06000001' appears twice", true);
    expect_load_error("areas.csv", "E06000002,", "E0600002,", false,
                      "areas.csv:3: field 'code': 'E0600002' is not an upper-tier local authority "
                      "code",
                      true);
    expect_load_error("areas.csv", "E06000002,", "E12000002,", false,
                      "is not an upper-tier local authority code", false);
    expect_load_error("areas.csv", "E06000002,", "E92000001,", false,
                      "is not an upper-tier local authority code", false);
    /* Moving every North East area elsewhere leaves that region empty. */
    expect_load_error("areas.csv", ",E12000001,", ",E12000002,", true,
                      "areas.csv: region E12000001 (North East) has no areas", true);
    /* A missing file names its path. */
    tmpref_t t;
    tmpref_make(&t, NULL, NULL, NULL, false);
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/milestones.csv", t.dir);
    unlink(path);
    assert_null(cdof_ref_load(t.dir, err, sizeof err));
    assert_non_null(strstr(err, "milestones.csv: No such file or directory"));
    tmpref_remove(&t);
    assert_null(cdof_ref_load("/nonexistent/cdof", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/cdof/metrics.csv"));
    assert_null(cdof_ref_load(NULL, err, sizeof err));
}

/* CRLF line ends, a BOM, reordered and extra columns and quoted fields all load the same data. */
static void test_tolerated_forms(void **state)
{
    (void)state;
    tmpref_t t;
    tmpref_make(&t, "metrics.csv", "\n", "\r\n", true);
    char path[512], err[512] = "";
    cdof_ref_t *ref = cdof_ref_load(t.dir, err, sizeof err);
    if (!ref)
        fail_msg("CRLF: %s", err);
    const cdof_metric_t *m = cdof_ref_metric(ref, "drug_and_mental_health_treatment");
    assert_non_null(m);
    assert_int_equal(m->method, CDOF_METHOD_WILSON); /* last field, no stray CR */
    cdof_ref_destroy(&ref);

    snprintf(path, sizeof path, "%s/regions.csv", t.dir);
    spill(path, "\xEF\xBB\xBF"
                "extra,name,code\r\n"
                "x,\"North East\",E12000001\r\n"
                "y,\"North \"\"West\"\"\",\"E12000002\"\r\n"
                "\r\n"
                "z,Yorkshire and The Humber,E12000003\n"
                ",East Midlands,E12000004\n"
                ",West Midlands,E12000005\n"
                ",East of England,E12000006\n"
                ",\"London\nand all that\",E12000007\n"
                ",South East,E12000008\n"
                ",South West,E12000009");
    ref = cdof_ref_load(t.dir, err, sizeof err);
    if (!ref)
        fail_msg("regions: %s", err);
    assert_string_equal(cdof_ref_area(ref, "E12000002")->name, "North \"West\"");
    assert_string_equal(cdof_ref_area(ref, "E12000007")->name, "London\nand all that");
    assert_string_equal(cdof_ref_area(ref, "E12000009")->name, "South West");
    assert_true(cdof_ref_area(ref, CDOF_ENGLAND_CODE)->population == 56550138.0);
    cdof_ref_destroy(&ref);

    /* A quoted newline still counts towards the line numbers of later rows. */
    spill(path, "code,name\n"
                "E12000001,\"North\nEast\"\n"
                "E12000002,North West\n"
                "bad,row\n");
    assert_null(cdof_ref_load(t.dir, err, sizeof err));
    assert_string_equal(err, "regions.csv:5: field 'code': 'bad' is not a region code (E12 and "
                             "six digits)");
    tmpref_remove(&t);
}

static void test_default_dir(void **state)
{
    (void)state;
    const char *saved = getenv("CDOF_REFDIR");
    char *copy = saved ? strdup(saved) : NULL;
    assert_int_equal(setenv("CDOF_REFDIR", "/somewhere/else", 1), 0);
    assert_string_equal(cdof_ref_default_dir(), "/somewhere/else");
    assert_int_equal(setenv("CDOF_REFDIR", "", 1), 0); /* empty counts as unset */
    const char *d = cdof_ref_default_dir();
    assert_string_not_equal(d, "");
    assert_int_equal(unsetenv("CDOF_REFDIR"), 0);
    d = cdof_ref_default_dir();
    char err[512];
    cdof_ref_t *ref = cdof_ref_load(d, err, sizeof err);
    if (!ref)
        fail_msg("default dir %s: %s", d, err);
    cdof_ref_destroy(&ref);
    if (copy) {
        setenv("CDOF_REFDIR", copy, 1);
        free(copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_shape),
        cmocka_unit_test(test_populations),
        cmocka_unit_test(test_metric_fields),
        cmocka_unit_test(test_bad_metrics),
        cmocka_unit_test(test_bad_milestones_regions_areas),
        cmocka_unit_test(test_tolerated_forms),
        cmocka_unit_test(test_default_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
