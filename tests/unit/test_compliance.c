/* Milestone compliance: one-off and recurring deadlines, on time, late, overdue runs. The
 * deadlines are the reference's (progress report: 2023-04-30, then every 12 months). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cdof_compliance.h"
#include "cdof_period.h"

static int32_t day(const char *s)
{
    int32_t d = 0;
    assert_int_equal(cdof_date_parse(s, &d), 0);
    return d;
}

static const cdof_milestone_t progress = {"progress_report", "Progress report", 0, 12};
static const cdof_milestone_t plan = {"delivery_plan", "Delivery plan", 0, 0};

static cdof_milestone_t with_deadline(cdof_milestone_t m, const char *d)
{
    m.deadline = day(d);
    return m;
}

static void test_deadlines_recur_by_months(void **state)
{
    (void)state;
    cdof_milestone_t m = with_deadline(progress, "2023-04-30");
    assert_int_equal(cdof_compliance_deadline(&m, 0), day("2023-04-30"));
    assert_int_equal(cdof_compliance_deadline(&m, 2), day("2025-04-30"));
    cdof_milestone_t feb = {"x", "x", day("2023-01-31"), 1};
    assert_int_equal(cdof_compliance_deadline(&feb, 1), day("2023-02-28"));  /* clamped */
    assert_int_equal(cdof_compliance_deadline(&feb, 13), day("2024-02-29")); /* leap year */
    cdof_milestone_t once = with_deadline(plan, "2022-12-31");
    assert_int_equal(cdof_compliance_deadline(&once, 5), day("2022-12-31"));
}

static void test_one_off(void **state)
{
    (void)state;
    cdof_milestone_t m = with_deadline(plan, "2022-12-31");
    cdof_ms_standing_t s = cdof_compliance_assess(&m, NULL, 0, day("2022-12-01"));
    assert_int_equal(s.status, CDOF_MS_NOT_DUE);
    assert_int_equal(s.next_due, day("2022-12-31"));

    s = cdof_compliance_assess(&m, NULL, 0, day("2024-06-01"));
    assert_int_equal(s.status, CDOF_MS_OVERDUE);
    assert_int_equal(s.overdue_since, day("2022-12-31"));
    assert_int_equal(s.next_due, 0);

    int32_t late[] = {day("2023-02-01")};
    s = cdof_compliance_assess(&m, late, 1, day("2024-06-01"));
    assert_int_equal(s.status, CDOF_MS_DONE_LATE);
    assert_int_equal(s.done_day, late[0]);
    /* A completion after the as-of day does not count yet. */
    s = cdof_compliance_assess(&m, late, 1, day("2023-01-15"));
    assert_int_equal(s.status, CDOF_MS_OVERDUE);

    /* The deadline day itself is still in time; the day after is not. */
    s = cdof_compliance_assess(&m, NULL, 0, day("2022-12-31"));
    assert_int_equal(s.status, CDOF_MS_NOT_DUE);
    s = cdof_compliance_assess(&m, NULL, 0, day("2023-01-01"));
    assert_int_equal(s.status, CDOF_MS_OVERDUE);

    int32_t early[] = {day("2022-10-01")};
    s = cdof_compliance_assess(&m, early, 1, day("2022-11-01"));
    assert_int_equal(s.status, CDOF_MS_DONE);
}

static void test_recurring_on_time_then_overdue(void **state)
{
    (void)state;
    cdof_milestone_t m = with_deadline(progress, "2023-04-30");
    int32_t done[] = {day("2024-04-10"), day("2023-04-20")}; /* any order */
    cdof_ms_standing_t s = cdof_compliance_assess(&m, done, 2, day("2024-06-01"));
    assert_int_equal(s.status, CDOF_MS_DONE);
    assert_int_equal(s.due_day, day("2024-04-30"));
    assert_int_equal(s.done_day, day("2024-04-10"));
    assert_int_equal(s.next_due, day("2025-04-30"));

    /* No 2025 or 2026 report: overdue since the first deadline missed, 2025-04-30. */
    s = cdof_compliance_assess(&m, done, 2, day("2026-11-30"));
    assert_int_equal(s.status, CDOF_MS_OVERDUE);
    assert_int_equal(s.due_day, day("2026-04-30"));
    assert_int_equal(s.overdue_since, day("2025-04-30"));
    assert_int_equal(s.next_due, day("2027-04-30"));

    /* On a recurring deadline day the cycle before is still the one assessed. */
    s = cdof_compliance_assess(&m, done, 2, day("2025-04-30"));
    assert_int_equal(s.status, CDOF_MS_DONE);
    assert_int_equal(s.due_day, day("2024-04-30"));
    assert_int_equal(s.next_due, day("2025-04-30"));
    s = cdof_compliance_assess(&m, done, 2, day("2025-05-01"));
    assert_int_equal(s.status, CDOF_MS_OVERDUE);
}

static void test_recurring_late_and_never(void **state)
{
    (void)state;
    cdof_milestone_t m = with_deadline(progress, "2023-04-30");
    int32_t done[] = {day("2023-04-01"), day("2024-06-15")};
    cdof_ms_standing_t s = cdof_compliance_assess(&m, done, 2, day("2024-07-01"));
    assert_int_equal(s.status, CDOF_MS_DONE_LATE);
    assert_int_equal(s.done_day, day("2024-06-15"));

    s = cdof_compliance_assess(&m, NULL, 0, day("2025-01-01"));
    assert_int_equal(s.status, CDOF_MS_OVERDUE);
    assert_int_equal(s.overdue_since, day("2023-04-30"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadlines_recur_by_months),
        cmocka_unit_test(test_one_off),
        cmocka_unit_test(test_recurring_on_time_then_overdue),
        cmocka_unit_test(test_recurring_late_and_never),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
