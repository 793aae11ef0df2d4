/* Reporting periods: the five kinds of docs/DESIGN.md "Periods" and their text forms.
 *
 *   month            2024-03      first..last day of the month
 *   quarter          2024-Q1      calendar quarter
 *   financial year   2023/24      1 April 2023 .. 31 March 2024
 *   calendar year    2023
 *   pooled years     2021-2023    1 Jan 2021 .. 31 Dec 2023 (2 to 10 years)
 *
 * Days are counted from 1970-01-01 in the proleptic Gregorian calendar. */
#ifndef CDOF_PERIOD_H
#define CDOF_PERIOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CDOF_PERIOD_NONE = 0,
    CDOF_PERIOD_MONTH = 1,
    CDOF_PERIOD_QUARTER = 2,
    CDOF_PERIOD_FINANCIAL_YEAR = 3,
    CDOF_PERIOD_CALENDAR_YEAR = 4,
    CDOF_PERIOD_POOLED_YEARS = 5
} cdof_period_kind_t; /* values equal cdof.v1.PeriodKind */

typedef struct {
    cdof_period_kind_t kind;
    int32_t first_day; /* inclusive */
    int32_t last_day;  /* inclusive */
} cdof_period_t;

/* Longest text form plus NUL ("2021-2023"). */
#define CDOF_PERIOD_TEXT_MAX 16

/* Periods are supported for years in this range (a financial year must also end in it), so that
 * every valid period has a four-digit text form. Pooled periods span 2 to 10 years. */
#define CDOF_PERIOD_YEAR_MIN   1900
#define CDOF_PERIOD_YEAR_MAX   2999
#define CDOF_PERIOD_POOLED_MIN 2
#define CDOF_PERIOD_POOLED_MAX 10

/* Parses text into *out. Returns 0, or CDOF_EINVALID with a reason such as
 * "'2024-13' is not a month (expected 2024-03, 2024-Q1, 2023/24, 2023 or 2021-2023)" in err. */
int cdof_period_parse(const char *text, cdof_period_t *out, char *err, size_t errlen);

/* Writes the text form of p into buf (CDOF_PERIOD_TEXT_MAX bytes). Returns 0 or -EINVAL when p
 * is not a well-formed period (first/last day not on the kind's boundaries). */
int cdof_period_format(const cdof_period_t *p, char *buf, size_t len);

/* Checks that first_day and last_day are the boundaries of a period of that kind, as a decoded
 * wire Period must be. */
bool cdof_period_valid(const cdof_period_t *p);

/* Civil date <-> days since epoch. month 1..12, day 1..31. No range checks: any date whose day
 * count fits in an int32_t converts exactly both ways. */
int32_t cdof_days_from_civil(int year, int month, int day);
void cdof_civil_from_days(int32_t days, int *year, int *month, int *day);

/* Parses "YYYY-MM-DD" strictly (a real calendar date). Returns 0 or -EINVAL. */
int cdof_date_parse(const char *text, int32_t *out_days);
/* Writes "YYYY-MM-DD" (11 bytes; truncated to len). */
void cdof_date_format(int32_t days, char *buf, size_t len);

/* The period of the same kind immediately before p (a year earlier for years, one month before a
 * month, ...; a pooled period shifts by one year). Returns 0 or -EINVAL. */
int cdof_period_prev(const cdof_period_t *p, cdof_period_t *out);

/* Same period kind and length, one year earlier (the baseline for counts). */
int cdof_period_year_earlier(const cdof_period_t *p, cdof_period_t *out);

#endif
