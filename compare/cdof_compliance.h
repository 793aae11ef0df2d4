/* Milestone compliance: where a partnership stands on one deliverable as at a day, from the
 * deliverable's deadline and recurrence (proto/data/milestones.csv) and the days the partnership
 * reported it done. Pure: days in, a standing out.
 *
 * Deadlines are d0 = the reference deadline, then d0 + k * recurrence months (the day of the month
 * clamped to the month's end). As at day T, with K the last deadline on or before T:
 *   - nothing due yet (T < d0): "done" when completed already, else "not_due";
 *   - one-off: "done" when completed by d0, "done_late" when completed after it (by T),
 *     else "overdue" since d0;
 *   - recurring: the cycle of d_K runs from the day after d_{K-1}; a completion in (d_{K-1}, T]
 *     is "done" (or "done_late" when after d_K); without one the partnership is "overdue" since
 *     the first deadline whose cycle holds no completion (missed deadlines in a row count from the
 *     first). */
#ifndef CDOF_COMPLIANCE_H
#define CDOF_COMPLIANCE_H

#include <stddef.h>
#include <stdint.h>

#include "cdof_ref.h"

typedef enum { CDOF_MS_NOT_DUE, CDOF_MS_DONE, CDOF_MS_DONE_LATE, CDOF_MS_OVERDUE } cdof_ms_status_t;

typedef struct {
    cdof_ms_status_t status;
    int32_t due_day;       /* the deadline that decides the status (d_K, or d0 when not yet due) */
    int32_t done_day;      /* the completion that meets it; 0 when none */
    int32_t overdue_since; /* overdue only: the first deadline missed in a row */
    int32_t next_due;      /* the next deadline after T; 0 for a one-off */
} cdof_ms_standing_t;

/* Deadline k (0-based) of m, days since epoch. */
int32_t cdof_compliance_deadline(const cdof_milestone_t *m, int k);

/* Assesses m as at day as_of from n completion days (any order; days after as_of are ignored).
 * done may be NULL when n is 0. */
cdof_ms_standing_t cdof_compliance_assess(const cdof_milestone_t *m, const int32_t *done, size_t n,
                                          int32_t as_of);

/* "not_due", "done", "done_late" or "overdue". */
const char *cdof_compliance_status_name(cdof_ms_status_t s);

#endif
