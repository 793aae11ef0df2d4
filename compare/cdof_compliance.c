#include "cdof_compliance.h"

#include <stdbool.h>

#include "cdof_period.h"

/* Recurring deadlines run for the strategy's ten years and beyond; this bounds every loop. */
#define MAX_CYCLES 1200

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int32_t cdof_compliance_deadline(const cdof_milestone_t *m, int k)
{
    if (k <= 0 || m->recurrence_months <= 0)
        return m->deadline;
    int y, mo, d;
    cdof_civil_from_days(m->deadline, &y, &mo, &d);
    long months = (long)y * 12 + (mo - 1) + (long)k * m->recurrence_months;
    y = (int)(months / 12);
    mo = (int)(months % 12) + 1;
    if (d > month_days(y, mo))
        d = month_days(y, mo);
    return cdof_days_from_civil(y, mo, d);
}

/* The earliest completion in (after, as_of], or 0. */
static int32_t first_in(const int32_t *done, size_t n, int64_t after, int32_t as_of)
{
    int32_t best = 0;
    for (size_t i = 0; i < n; i++) {
        if (done[i] > after && done[i] <= as_of && (!best || done[i] < best))
            best = done[i];
    }
    return best;
}

cdof_ms_standing_t cdof_compliance_assess(const cdof_milestone_t *m, const int32_t *done, size_t n,
                                          int32_t as_of)
{
    cdof_ms_standing_t s = {.status = CDOF_MS_NOT_DUE, .due_day = m->deadline};
    bool recurring = m->recurrence_months > 0;
    /* A deadline day is still in time: overdue from the day after, as the milestone rule fires. */
    if (as_of <= m->deadline) {
        s.done_day = first_in(done, n, INT64_MIN, as_of);
        s.status = s.done_day ? CDOF_MS_DONE : CDOF_MS_NOT_DUE;
        s.next_due = m->deadline;
        return s;
    }
    int k = 0;
    while (recurring && k < MAX_CYCLES && cdof_compliance_deadline(m, k + 1) < as_of)
        k++;
    s.due_day = cdof_compliance_deadline(m, k);
    s.next_due = recurring ? cdof_compliance_deadline(m, k + 1) : 0;
    int64_t cycle_start = k > 0 ? cdof_compliance_deadline(m, k - 1) : INT64_MIN;
    s.done_day = first_in(done, n, cycle_start, as_of);
    if (s.done_day) {
        s.status = s.done_day <= s.due_day ? CDOF_MS_DONE : CDOF_MS_DONE_LATE;
        return s;
    }
    s.status = CDOF_MS_OVERDUE;
    /* Overdue since the first deadline after the cycle of the last completion. */
    int j = k;
    while (j > 0 && !first_in(done, n, j > 1 ? cdof_compliance_deadline(m, j - 2) : INT64_MIN,
                              cdof_compliance_deadline(m, j - 1)))
        j--;
    s.overdue_since = cdof_compliance_deadline(m, j);
    return s;
}

const char *cdof_compliance_status_name(cdof_ms_status_t s)
{
    switch (s) {
    case CDOF_MS_DONE:
        return "done";
    case CDOF_MS_DONE_LATE:
        return "done_late";
    case CDOF_MS_OVERDUE:
        return "overdue";
    case CDOF_MS_NOT_DUE:
        break;
    }
    return "not_due";
}
