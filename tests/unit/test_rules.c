/* The hub's alert rules file and the rules' pure helpers: the example file loads, every error
 * names file, line and field, silence matchers, milestone due dates, and the robust z-score the
 * data-quality rule uses. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdof_error.h"
#include "cdof_period.h"
#include "cdof_ref.h"
#include "cdof_stats.h"
#include "hub_rules.h"

static cdof_ref_t *ref;
static char path[128];

static int setup(void **state)
{
    (void)state;
    char err[256];
    ref = cdof_ref_load(CDOF_REF_DIR, err, sizeof err);
    snprintf(path, sizeof path, "/tmp/cdof-test-rules-%d.ini", (int)getpid());
    return ref ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    cdof_ref_destroy(&ref);
    return 0;
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loads text and expects failure with a reason containing want. */
static void expect_error(const char *text, const char *want)
{
    char err[512] = "";
    hub_rules_t *r = NULL;
    write_file(text);
    assert_int_equal(hub_rules_load(path, ref, 0.998, &r, err, sizeof err), CDOF_EINVALID);
    assert_null(r);
    if (!strstr(err, want))
        fail_msg("error '%s' does not contain '%s'", err, want);
}

static const hub_rule_t *find(const hub_rules_t *r, const char *name)
{
    for (size_t i = 0; i < hub_rules_count(r); i++) {
        if (!strcmp(hub_rules_at(r, i)->name, name))
            return hub_rules_at(r, i);
    }
    return NULL;
}

static void test_example_file(void **state)
{
    (void)state;
    char err[512] = "";
    hub_rules_t *r = NULL;
    assert_int_equal(hub_rules_load(CDOF_SOURCE_DIR "/deploy/rules.example.ini", ref, 0.998, &r,
                                    err, sizeof err),
                     0);
    assert_int_equal(hub_rules_count(r), 8);
    const hub_rule_t *w = find(r, "worse_and_worsening");
    assert_non_null(w);
    assert_int_equal(w->kind, HUB_RULE_WORSE_AND_WORSENING);
    assert_true(w->confidence < 0.99);
    assert_int_equal(w->severity, 3);
    /* headline metrics by default, listed ones when given */
    const cdof_metric_t *coc = cdof_ref_metric(ref, "continuity_of_care");
    const cdof_metric_t *hcv = cdof_ref_metric(ref, "hcv_prevalence_pwid");
    assert_true(w->metric_on[coc->index]);
    assert_false(w->metric_on[hcv->index]);
    const hub_rule_t *t = find(r, "worsening_trend");
    assert_int_equal(t->consecutive, 2);
    assert_false(t->metric_on[cdof_ref_metric(ref, "drug_misuse_deaths")->index]);
    assert_int_equal(find(r, "agent_silent")->silent_s, 900);
    assert_int_equal(find(r, "data_overdue")->days, 45);
    assert_true(find(r, "data_quality")->metric_on[hcv->index]);
    /* The milestone rule's area list is parsed (it selects the hub's partnerships). */
    const hub_rule_t *ms = find(r, "milestone_overdue");
    assert_non_null(ms);
    assert_null(ms->area_on);
    hub_rules_destroy(&r);
    assert_null(r);
}

static void test_defaults_and_kind_from_name(void **state)
{
    (void)state;
    hub_rules_t *r = hub_rules_default(ref, 0.95);
    assert_non_null(r);
    assert_int_equal(hub_rules_count(r), 2);
    assert_int_equal(hub_rules_at(r, 1)->kind, HUB_RULE_WORSE_THAN_REGION);
    assert_true(hub_rules_at(r, 0)->confidence < 0.99);
    hub_rules_destroy(&r);

    char err[512] = "";
    write_file("# comment\n[late_data]\nkind = data_overdue ; trailing\nmetrics = all\n"
               "[milestone_overdue]\nareas = E06000009\nmilestones = delivery_plan\n");
    assert_int_equal(hub_rules_load(path, ref, 0.998, &r, err, sizeof err), 0);
    assert_int_equal(hub_rules_at(r, 0)->kind, HUB_RULE_DATA_OVERDUE);
    const hub_rule_t *m = hub_rules_at(r, 1);
    assert_int_equal(m->kind, HUB_RULE_MILESTONE_OVERDUE);
    size_t selected = 0;
    for (size_t i = 0; i < cdof_ref_area_count(ref); i++)
        selected += m->area_on[i];
    assert_int_equal(selected, 1);
    assert_true(m->area_on[cdof_ref_area(ref, "E06000009")->index]);
    hub_rules_destroy(&r);
}

static void test_errors_name_file_line_field(void **state)
{
    (void)state;
    expect_error("[worse_than_england]\nlevel = 90\n", ":2: field 'level': '90' is not 95 or 99.8");
    expect_error("[x]\nlevel = 95\n", "rule [x] needs a 'kind'");
    /* Partnerships are the hub's (--partnerships), not the rules file's. */
    expect_error("[milestone_overdue]\n[partnership gm]\nareas = E08000001\n",
                 ":2: [partnership gm]: partnerships are no longer defined in the rules file; "
                 "list them in cdof-hub --partnerships FILE");
    expect_error("[a]\nkind = sideways\n", ":2: field 'kind': 'sideways' is not");
    expect_error("[worse_than_region]\nmetrics = continuity_of_care, nope\n",
                 ":2: field 'metrics': 'nope' is not a metric in the catalogue");
    expect_error("[agent_silent]\nafter = 0\n", ":2: field 'after': '0' is not a whole number");
    expect_error("[agent_silent]\ncolour = red\n", ":2: field 'colour': unknown key");
    expect_error("level = 95\n", ":1: field 'level': outside a [rule] section");
    expect_error("[Bad Name]\n", ":1: rule name 'Bad Name'");
    expect_error("[data_overdue]\n[data_overdue]\n", ":2: rule [data_overdue] is defined twice");
    expect_error("[milestone_overdue]\nareas = E12000002\n", "'E12000002' is not an upper-tier");
    expect_error("# nothing\n", "no rules");
    char err[256];
    hub_rules_t *r = NULL;
    assert_int_equal(hub_rules_load("/nonexistent/rules.ini", ref, 0.998, &r, err, sizeof err),
                     -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/rules.ini"));
}

static void test_matcher(void **state)
{
    (void)state;
    const char *key = "worse_than_england|continuity_of_care|E06000009";
    assert_true(hub_rules_key_matches(key, key));
    assert_true(hub_rules_key_matches("*|*|*", key));
    assert_true(hub_rules_key_matches("*|continuity_of_care|*", key));
    assert_true(hub_rules_key_matches("worse_than_england|*|E06000009", key));
    assert_false(hub_rules_key_matches("worse_than_england|*|E06000008", key));
    assert_false(hub_rules_key_matches("worse_than_eng|*|*", key));
    assert_false(hub_rules_key_matches("*|*", key));
    assert_false(hub_rules_key_matches("*|*|*|*", key));
    char err[128];
    assert_int_equal(hub_rules_matcher_check("a|b|c", err, sizeof err), 0);
    assert_int_equal(hub_rules_matcher_check("a|b", err, sizeof err), -EINVAL);
    assert_int_equal(hub_rules_matcher_check("a||c", err, sizeof err), -EINVAL);
    assert_int_equal(hub_rules_matcher_check("a|b|c|d", err, sizeof err), -EINVAL);
}

static void test_milestone_due(void **state)
{
    (void)state;
    assert_int_equal(hub_rules_add_months(cdof_days_from_civil(2024, 1, 31), 1),
                     cdof_days_from_civil(2024, 2, 29));
    assert_int_equal(hub_rules_add_months(cdof_days_from_civil(2023, 4, 30), 24),
                     cdof_days_from_civil(2025, 4, 30));
    assert_int_equal(hub_rules_add_months(cdof_days_from_civil(2023, 11, 30), -12),
                     cdof_days_from_civil(2022, 11, 30));

    /* One-off: late from the day after the deadline, not on it. */
    const cdof_milestone_t *plan = cdof_ref_milestone(ref, "delivery_plan");
    int32_t due, start;
    assert_false(hub_rules_milestone_due(plan, cdof_days_from_civil(2022, 12, 31), &due, &start));
    assert_true(hub_rules_milestone_due(plan, cdof_days_from_civil(2023, 1, 1), &due, &start));
    assert_int_equal(due, cdof_days_from_civil(2022, 12, 31));
    assert_int_equal(start, INT32_MIN);

    /* Recurring every 12 months from 2023-04-30: on 2025-05-01 the 2025 report is due, and
     * only a report after 2024-04-30 counts for it. */
    const cdof_milestone_t *rep = cdof_ref_milestone(ref, "progress_report");
    assert_true(hub_rules_milestone_due(rep, cdof_days_from_civil(2025, 5, 1), &due, &start));
    assert_int_equal(due, cdof_days_from_civil(2025, 4, 30));
    assert_int_equal(start, cdof_days_from_civil(2024, 4, 30));
    assert_true(hub_rules_milestone_due(rep, cdof_days_from_civil(2025, 4, 30), &due, &start));
    assert_int_equal(due, cdof_days_from_civil(2024, 4, 30));
}

static void test_robust_z(void **state)
{
    (void)state;
    double h[] = {10, 12, 11, 13, 9, 11}, s[6];
    /* median 11, MAD 1: 0.6745 * (20 - 11) / 1 */
    assert_float_equal(cdof_stats_robust_z(20, h, 6, s), 0.6745 * 9, 1e-12);
    assert_float_equal(cdof_stats_robust_z(11, h, 6, s), 0, 1e-12);
    double flat[] = {5, 5, 5, 5};
    assert_float_equal(cdof_stats_robust_z(5, flat, 4, s), 0, 0);
    assert_true(isinf(cdof_stats_robust_z(6, flat, 4, s)));
    double mostly[] = {5, 5, 5, 9}; /* MAD 0, mean absolute deviation 1 */
    assert_float_equal(cdof_stats_robust_z(7, mostly, 4, s), 2 / 1.253314, 1e-12);
    assert_true(isnan(cdof_stats_robust_z(7, mostly, 2, s)));
    assert_true(isnan(cdof_stats_robust_z(NAN, mostly, 4, s)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_defaults_and_kind_from_name),
        cmocka_unit_test(test_errors_name_file_line_field),
        cmocka_unit_test(test_matcher),
        cmocka_unit_test(test_milestone_due),
        cmocka_unit_test(test_robust_z),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
