#include "cdof_period.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cdof_error.h"

#define EXPECTED_FORMS "expected 2024-03, 2024-Q1, 2023/24, 2023 or 2021-2023"

/* Days from 1970-01-01. The year is shifted to start in March so that the leap day is the last
 * day of the year, and split into 400-year eras of 146097 days each so that the arithmetic is
 * the same for every era, before or after 1970. */
int32_t cdof_days_from_civil(int year, int month, int day)
{
    int y = year - (month <= 2);
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;                                /* 0..399 */
    int mp = month > 2 ? month - 3 : month + 9;             /* 0 = March .. 11 = February */
    int doy = (153 * mp + 2) / 5 + day - 1;                 /* 0..365 */
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;        /* 0..146096 */
    return (int32_t)((int64_t)era * 146097 + doe - 719468); /* 719468: 0000-03-01 to 1970 */
}

void cdof_civil_from_days(int32_t days, int *year, int *month, int *day)
{
    int64_t z = (int64_t)days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = (int)(z - era * 146097);                               /* 0..146096 */
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
    int mp = (5 * doy + 2) / 153;                                    /* 0..11 */
    int d = doy - (153 * mp + 2) / 5 + 1;
    int m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(yoe + era * 400) + (m <= 2);
    *month = m;
    *day = d;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Parses exactly n decimal digits. */
static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int cdof_date_parse(const char *text, int32_t *out_days)
{
    int y, m, d;
    if (!text || strlen(text) != 10 || text[4] != '-' || text[7] != '-' || !digits(text, 4, &y) ||
        !digits(text + 5, 2, &m) || !digits(text + 8, 2, &d))
        return -EINVAL;
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -EINVAL;
    *out_days = cdof_days_from_civil(y, m, d);
    return 0;
}

void cdof_date_format(int32_t days, char *buf, size_t len)
{
    int y, m, d;
    cdof_civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
}

/* Builds the period of a kind from its year and its month (month kind), quarter (1..4) or last
 * year (pooled). Fails outside the supported years so that every period has a text form. */
static int make_period(cdof_period_kind_t kind, int year, int sub, cdof_period_t *out)
{
    if (year < CDOF_PERIOD_YEAR_MIN || year > CDOF_PERIOD_YEAR_MAX)
        return -EINVAL;
    cdof_period_t p = {kind, 0, 0};
    switch (kind) {
    case CDOF_PERIOD_MONTH:
        if (sub < 1 || sub > 12)
            return -EINVAL;
        p.first_day = cdof_days_from_civil(year, sub, 1);
        p.last_day = cdof_days_from_civil(year, sub, days_in_month(year, sub));
        break;
    case CDOF_PERIOD_QUARTER:
        if (sub < 1 || sub > 4)
            return -EINVAL;
        p.first_day = cdof_days_from_civil(year, 3 * sub - 2, 1);
        p.last_day = cdof_days_from_civil(year, 3 * sub, days_in_month(year, 3 * sub));
        break;
    case CDOF_PERIOD_FINANCIAL_YEAR:
        if (year >= CDOF_PERIOD_YEAR_MAX) /* ends in the next year */
            return -EINVAL;
        p.first_day = cdof_days_from_civil(year, 4, 1);
        p.last_day = cdof_days_from_civil(year + 1, 3, 31);
        break;
    case CDOF_PERIOD_CALENDAR_YEAR:
        p.first_day = cdof_days_from_civil(year, 1, 1);
        p.last_day = cdof_days_from_civil(year, 12, 31);
        break;
    case CDOF_PERIOD_POOLED_YEARS:
        if (sub > CDOF_PERIOD_YEAR_MAX || sub - year + 1 < CDOF_PERIOD_POOLED_MIN ||
            sub - year + 1 > CDOF_PERIOD_POOLED_MAX)
            return -EINVAL;
        p.first_day = cdof_days_from_civil(year, 1, 1);
        p.last_day = cdof_days_from_civil(sub, 12, 31);
        break;
    default:
        return -EINVAL;
    }
    *out = p;
    return 0;
}

/* Recovers (year, sub) from a period's first and last days; fails if p is not on the kind's
 * boundaries. */
static int period_parts(const cdof_period_t *p, int *year, int *sub)
{
    if (!p)
        return -EINVAL;
    int y, m, d, lm, ld;
    cdof_civil_from_days(p->first_day, &y, &m, &d);
    int s;
    switch (p->kind) {
    case CDOF_PERIOD_MONTH:
        s = m;
        break;
    case CDOF_PERIOD_QUARTER:
        s = (m + 2) / 3;
        break;
    case CDOF_PERIOD_POOLED_YEARS:
        /* Only here is the last day converted: every other kind's end follows from its start,
         * and the hub checks a period for every update it takes. */
        cdof_civil_from_days(p->last_day, &s, &lm, &ld);
        break;
    default:
        s = 0;
        break;
    }
    cdof_period_t want;
    if (make_period(p->kind, y, s, &want) < 0 || want.first_day != p->first_day ||
        want.last_day != p->last_day)
        return -EINVAL;
    *year = y;
    *sub = s;
    return 0;
}

bool cdof_period_valid(const cdof_period_t *p)
{
    /* The hub checks each update's period three times (decode, conversion, validation), and an
     * agent's updates come area after area for one period: the last period found well-formed
     * answers most checks with three compares. Safe to keep: validity never changes. */
    static _Thread_local cdof_period_t last_ok;
    if (p && p->kind != CDOF_PERIOD_NONE && p->kind == last_ok.kind &&
        p->first_day == last_ok.first_day && p->last_day == last_ok.last_day)
        return true;
    int y, s;
    if (period_parts(p, &y, &s) < 0)
        return false;
    last_ok = *p;
    return true;
}

int cdof_period_format(const cdof_period_t *p, char *buf, size_t len)
{
    int y, s;
    if (!buf || len == 0 || period_parts(p, &y, &s) < 0)
        return -EINVAL;
    int n;
    switch (p->kind) {
    case CDOF_PERIOD_MONTH:
        n = snprintf(buf, len, "%04d-%02d", y, s);
        break;
    case CDOF_PERIOD_QUARTER:
        n = snprintf(buf, len, "%04d-Q%d", y, s);
        break;
    case CDOF_PERIOD_FINANCIAL_YEAR:
        n = snprintf(buf, len, "%04d/%02d", y, (y + 1) % 100);
        break;
    case CDOF_PERIOD_CALENDAR_YEAR:
        n = snprintf(buf, len, "%04d", y);
        break;
    default:
        n = snprintf(buf, len, "%04d-%04d", y, s);
        break;
    }
    return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

static int year_range_error(const char *text, char *err, size_t errlen)
{
    snprintf(err, errlen, "'%s' is outside the supported years %d to %d", text,
             CDOF_PERIOD_YEAR_MIN, CDOF_PERIOD_YEAR_MAX);
    return CDOF_EINVALID;
}

int cdof_period_parse(const char *text, cdof_period_t *out, char *err, size_t errlen)
{
    if (!text || !*text) {
        snprintf(err, errlen, "period is empty (" EXPECTED_FORMS ")");
        return CDOF_EINVALID;
    }
    size_t n = strlen(text);
    if (n > 9) {
        snprintf(err, errlen, "'%.20s%s' is not a period (" EXPECTED_FORMS ")", text,
                 n > 20 ? "..." : "");
        return CDOF_EINVALID;
    }
    int y, a;
    if (!digits(text, 4, &y)) {
        snprintf(err, errlen, "'%s' is not a period (" EXPECTED_FORMS ")", text);
        return CDOF_EINVALID;
    }
    bool in_range = y >= CDOF_PERIOD_YEAR_MIN && y <= CDOF_PERIOD_YEAR_MAX;
    if (n == 4) {
        if (!in_range)
            return year_range_error(text, err, errlen);
        return make_period(CDOF_PERIOD_CALENDAR_YEAR, y, 0, out) < 0 ? CDOF_EINVALID : 0;
    }
    if (n == 7 && text[4] == '-' && text[5] == 'Q') {
        if (!digits(text + 6, 1, &a) || a < 1 || a > 4) {
            snprintf(err, errlen, "'%s' is not a quarter (Q1 to Q4, as in 2024-Q1)", text);
            return CDOF_EINVALID;
        }
        if (!in_range)
            return year_range_error(text, err, errlen);
        return make_period(CDOF_PERIOD_QUARTER, y, a, out) < 0 ? CDOF_EINVALID : 0;
    }
    if (n == 7 && text[4] == '-') {
        if (!digits(text + 5, 2, &a) || a < 1 || a > 12) {
            snprintf(err, errlen, "'%s' is not a month (" EXPECTED_FORMS ")", text);
            return CDOF_EINVALID;
        }
        if (!in_range)
            return year_range_error(text, err, errlen);
        return make_period(CDOF_PERIOD_MONTH, y, a, out) < 0 ? CDOF_EINVALID : 0;
    }
    if (n == 7 && text[4] == '/') {
        if (!digits(text + 5, 2, &a)) {
            snprintf(err, errlen, "'%s' is not a financial year (expected 2023/24)", text);
            return CDOF_EINVALID;
        }
        if (a != (y + 1) % 100) {
            snprintf(err, errlen,
                     "'%s' is not a financial year: financial year must be consecutive years "
                     "(%04d/%02d)",
                     text, y, (y + 1) % 100);
            return CDOF_EINVALID;
        }
        if (!in_range || y == CDOF_PERIOD_YEAR_MAX)
            return year_range_error(text, err, errlen);
        return make_period(CDOF_PERIOD_FINANCIAL_YEAR, y, 0, out) < 0 ? CDOF_EINVALID : 0;
    }
    if (n == 9 && text[4] == '-' && digits(text + 5, 4, &a)) {
        if (!in_range || a < CDOF_PERIOD_YEAR_MIN || a > CDOF_PERIOD_YEAR_MAX)
            return year_range_error(text, err, errlen);
        int span = a - y + 1;
        if (span < CDOF_PERIOD_POOLED_MIN || span > CDOF_PERIOD_POOLED_MAX) {
            snprintf(err, errlen,
                     "'%s' is not a pooled period: pooled must span %d..%d years (as in "
                     "2021-2023)",
                     text, CDOF_PERIOD_POOLED_MIN, CDOF_PERIOD_POOLED_MAX);
            return CDOF_EINVALID;
        }
        return make_period(CDOF_PERIOD_POOLED_YEARS, y, a, out) < 0 ? CDOF_EINVALID : 0;
    }
    snprintf(err, errlen, "'%s' is not a period (" EXPECTED_FORMS ")", text);
    return CDOF_EINVALID;
}

/* Shifts p back by `months` months (month and quarter kinds) or `years` years (the others). */
static int period_shift(const cdof_period_t *p, int months, int years, cdof_period_t *out)
{
    int y, s;
    if (!out || period_parts(p, &y, &s) < 0)
        return -EINVAL;
    switch (p->kind) {
    case CDOF_PERIOD_MONTH: {
        int idx = y * 12 + (s - 1) - months;
        return make_period(p->kind, idx / 12, idx % 12 + 1, out);
    }
    case CDOF_PERIOD_QUARTER: {
        int idx = y * 4 + (s - 1) - months / 3;
        return make_period(p->kind, idx / 4, idx % 4 + 1, out);
    }
    case CDOF_PERIOD_POOLED_YEARS:
        return make_period(p->kind, y - years, s - years, out);
    default:
        return make_period(p->kind, y - years, 0, out);
    }
}

int cdof_period_prev(const cdof_period_t *p, cdof_period_t *out)
{
    int months = p && p->kind == CDOF_PERIOD_QUARTER ? 3 : 1;
    return period_shift(p, months, 1, out);
}

int cdof_period_year_earlier(const cdof_period_t *p, cdof_period_t *out)
{
    return period_shift(p, 12, 1, out);
}
