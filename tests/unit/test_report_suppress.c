/* Small-number suppression: primary for 1 to 4 (and proportions' complements of 1 to 4),
 * secondary so that no group has exactly one withheld member, across overlapping groups. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "report_suppress.h"

/* No group may hold exactly one withheld member that something else could give away. */
static void assert_safe(const double *counts, const cdof_sup_group_t *g, size_t ng,
                        const uint8_t *mask)
{
    for (size_t k = 0; k < ng; k++) {
        size_t hidden = 0, shown_present = 0;
        for (size_t j = 0; j < g[k].n; j++) {
            size_t i = g[k].members[j];
            hidden += mask[i] != CDOF_SUP_SHOWN;
            shown_present += mask[i] == CDOF_SUP_SHOWN && !isnan(counts[i]);
        }
        if (hidden == 1 && shown_present > 0)
            fail_msg("group %zu has exactly one withheld member", k);
    }
}

static void test_primary_only_small_counts(void **state)
{
    (void)state;
    double c[] = {0, 1, 4, 4.5, 5, 100, NAN};
    uint8_t m[7];
    assert_int_equal(cdof_suppress(c, 7, NULL, 0, m), 3);
    uint8_t want[] = {0, 1, 1, 1, 0, 0, 0};
    assert_memory_equal(m, want, sizeof want);
}

static void test_secondary_protects_from_the_total(void **state)
{
    (void)state;
    /* Three areas and their region's total: 3 is withheld; 20 (smallest other) follows, so
     * 100 - 77 no longer gives 3 away. */
    double c[] = {3, 20, 77, 100};
    size_t members[] = {0, 1, 2, 3};
    cdof_sup_group_t g = {members, 4};
    uint8_t m[4];
    assert_int_equal(cdof_suppress(c, 4, &g, 1, m), 2);
    assert_int_equal(m[0], CDOF_SUP_PRIMARY);
    assert_int_equal(m[1], CDOF_SUP_SECONDARY);
    assert_int_equal(m[2], CDOF_SUP_SHOWN);
    assert_safe(c, &g, 1, m);
}

static void test_two_small_need_nothing_more(void **state)
{
    (void)state;
    double c[] = {2, 3, 50, 55};
    size_t members[] = {0, 1, 2, 3};
    cdof_sup_group_t g = {members, 4};
    uint8_t m[4];
    assert_int_equal(cdof_suppress(c, 4, &g, 1, m), 2);
    assert_int_equal(m[2], CDOF_SUP_SHOWN);
}

static void test_prefers_non_zero(void **state)
{
    (void)state;
    double c[] = {4, 0, 9, 13};
    size_t members[] = {0, 1, 2, 3};
    cdof_sup_group_t g = {members, 4};
    uint8_t m[4];
    cdof_suppress(c, 4, &g, 1, m);
    assert_int_equal(m[1], CDOF_SUP_SHOWN);
    assert_int_equal(m[2], CDOF_SUP_SECONDARY);
}

static void test_cascades_across_groups(void **state)
{
    (void)state;
    /* Two regions (areas 0-1 with total 2, areas 3-4 with total 5) and England (6) = 2 + 5.
     * Area 0 is small: area 1 goes with it; no other group has exactly one, so region totals
     * stay. Then make region 2's total small: region 5 must follow in the England group, and its
     * own group then needs a second member withheld. */
    double c[] = {2, 40, 42, 30, 31, 61, 103};
    size_t r1[] = {0, 1, 2}, r2[] = {3, 4, 5}, eng[] = {2, 5, 6};
    cdof_sup_group_t g[] = {{r1, 3}, {r2, 3}, {eng, 3}};
    uint8_t m[7];
    cdof_suppress(c, 7, g, 3, m);
    assert_safe(c, g, 3, m);
    assert_int_equal(m[2], CDOF_SUP_SHOWN);

    double d[] = {1, 2, 3, 30, 31, 61, 64};
    cdof_suppress(d, 7, g, 3, m);
    assert_safe(d, g, 3, m);
    assert_int_equal(m[2], CDOF_SUP_PRIMARY);
    assert_true(m[5] != CDOF_SUP_SHOWN);                           /* England group */
    assert_true(m[3] != CDOF_SUP_SHOWN || m[4] != CDOF_SUP_SHOWN); /* region 2's group */
}

static void test_bad_group_index(void **state)
{
    (void)state;
    double c[] = {1, 2};
    size_t members[] = {0, 5};
    cdof_sup_group_t g = {members, 2};
    uint8_t m[2];
    assert_int_equal(cdof_suppress(c, 2, &g, 1, m), -22);
}

static void test_complement_primary(void **state)
{
    (void)state;
    /* 97 of 100 reveals 3; 95 of 100 (5) and 100 of 100 (0) reveal no small count; 2 of 6 is
     * small itself (complement 4 too); no denominator: counts only. */
    double c[] = {97, 95, 100, 2, 97};
    double d[] = {100, 100, 100, 6, NAN};
    uint8_t m[5];
    assert_int_equal(cdof_suppress_proportions(c, d, 5, NULL, 0, m), 2);
    uint8_t want[] = {CDOF_SUP_PRIMARY, 0, 0, CDOF_SUP_PRIMARY, 0};
    assert_memory_equal(m, want, sizeof want);
    /* Without denominators it is cdof_suppress. */
    assert_int_equal(cdof_suppress_proportions(c, NULL, 5, NULL, 0, m), 1);
    assert_int_equal(m[0], CDOF_SUP_SHOWN);
}

static void test_complement_secondary(void **state)
{
    (void)state;
    /* A region (cell 3) of three areas: area 0 is 48 of 50 (2 not engaging). With it withheld
     * alone, the region's 148 - 60 - 40 gives back 48, and with the published 50 the 2: the
     * smallest other area goes too. The region's own complement, 300 - 148, is not small. */
    double c[] = {48, 60, 40, 148};
    double d[] = {50, 150, 100, 300};
    size_t members[] = {3, 0, 1, 2};
    cdof_sup_group_t g = {members, 4};
    uint8_t m[4];
    assert_int_equal(cdof_suppress_proportions(c, d, 4, &g, 1, m), 2);
    assert_int_equal(m[0], CDOF_SUP_PRIMARY);
    assert_int_equal(m[2], CDOF_SUP_SECONDARY);
    assert_int_equal(m[1], CDOF_SUP_SHOWN);
    assert_int_equal(m[3], CDOF_SUP_SHOWN);
    assert_safe(c, &g, 1, m);

    /* A total's complement is the sum of its parts': 50 of 50 and 49 of 51 make 99 of 101, so
     * the total is withheld by its own complement with the area, and nothing more is needed. */
    double e[] = {50, 49, 99};
    double f[] = {50, 51, 101};
    size_t two[] = {2, 0, 1};
    cdof_sup_group_t h = {two, 3};
    assert_int_equal(cdof_suppress_proportions(e, f, 3, &h, 1, m), 2);
    assert_int_equal(m[0], CDOF_SUP_SHOWN);
    assert_int_equal(m[1], CDOF_SUP_PRIMARY);
    assert_int_equal(m[2], CDOF_SUP_PRIMARY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_primary_only_small_counts),
        cmocka_unit_test(test_secondary_protects_from_the_total),
        cmocka_unit_test(test_two_small_need_nothing_more),
        cmocka_unit_test(test_prefers_non_zero),
        cmocka_unit_test(test_cascades_across_groups),
        cmocka_unit_test(test_bad_group_index),
        cmocka_unit_test(test_complement_primary),
        cmocka_unit_test(test_complement_secondary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
