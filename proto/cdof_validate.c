#include "cdof_validate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cdof_error.h"

static const char *kind_name(cdof_period_kind_t k)
{
    switch (k) {
    case CDOF_PERIOD_MONTH:
        return "a month";
    case CDOF_PERIOD_QUARTER:
        return "a quarter";
    case CDOF_PERIOD_FINANCIAL_YEAR:
        return "a financial year";
    case CDOF_PERIOD_CALENDAR_YEAR:
        return "a calendar year";
    case CDOF_PERIOD_POOLED_YEARS:
        return "a pooled period";
    default:
        return "no period";
    }
}

static const char *freq_accepts(cdof_frequency_t f)
{
    switch (f) {
    case CDOF_FREQ_MONTHLY:
        return "months";
    case CDOF_FREQ_QUARTERLY:
        return "quarters";
    case CDOF_FREQ_ANNUAL:
        return "financial or calendar years";
    default:
        return "calendar years or 3-year pooled periods";
    }
}

static const char *freq_name(cdof_frequency_t f)
{
    static const char *const names[] = {"monthly", "quarterly", "annual", "pooled3"};
    return (unsigned)f < 4 ? names[f] : "?";
}

bool cdof_validate_period_fits(const cdof_metric_t *m, cdof_period_kind_t kind)
{
    if (!m)
        return false;
    /* One kind of period per series: an aggregate (a monthly metric's quarter) sent beside the
     * months would be stored as a row of its own and compared against areas that sent months.
     * The hub builds what it needs from the single periods (rolling 12 months, pooled years). */
    switch (m->frequency) {
    case CDOF_FREQ_MONTHLY:
        return kind == CDOF_PERIOD_MONTH;
    case CDOF_FREQ_QUARTERLY:
        return kind == CDOF_PERIOD_QUARTER;
    case CDOF_FREQ_ANNUAL:
        return kind == CDOF_PERIOD_FINANCIAL_YEAR || kind == CDOF_PERIOD_CALENDAR_YEAR;
    case CDOF_FREQ_POOLED3:
        return kind == CDOF_PERIOD_CALENDAR_YEAR || kind == CDOF_PERIOD_POOLED_YEARS;
    }
    return false;
}

/* Checks that a present number is finite and not negative. */
static int check_number(const char *field, bool has, double v, char *err, size_t errlen)
{
    if (!has)
        return 0;
    if (!isfinite(v))
        return cdof_reason(CDOF_EINVALID, err, errlen, "%s is not a finite number", field);
    if (v < 0)
        return cdof_reason(CDOF_EINVALID, err, errlen, "%s %.15g is negative", field, v);
    return 0;
}

static bool in_scope(const cdof_scope_t *scope, const char *code)
{
    for (size_t i = 0; i < scope->nareas; i++) {
        if (scope->areas[i] && strcmp(scope->areas[i], code) == 0)
            return true;
    }
    return false;
}

static int check_area(const cdof_ref_t *ref, const cdof_scope_t *scope, const cdof_metric_t *m,
                      const char *code, char *err, size_t errlen)
{
    if (!code || !*code)
        return cdof_reason(CDOF_EINVALID, err, errlen, "area_code is missing");
    const cdof_area_t *a = cdof_ref_area(ref, code);
    if (!a)
        return cdof_reason(CDOF_EINVALID, err, errlen, "area_code '%.64s' is not a known area",
                           code);
    if (scope && !scope->national) {
        if (a->kind != CDOF_AREA_UTLA)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "area_code '%s' is %s (%s): only a national source may report "
                               "England and the regions",
                               code, a->kind == CDOF_AREA_ENGLAND ? "England" : "a region",
                               a->name);
        if (!in_scope(scope, code))
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "area_code '%s' (%s) is not one of this agent's areas", code,
                               a->name);
    }
    if (strcmp(m->geography, "national") == 0 && a->kind != CDOF_AREA_ENGLAND)
        return cdof_reason(CDOF_EINVALID, err, errlen,
                           "area_code '%s': metric '%s' is published for England only "
                           "(" CDOF_ENGLAND_CODE ")",
                           code, m->id);
    return 0;
}

static int check_period(const cdof_metric_t *m, const cdof_period_t *p, char *err, size_t errlen)
{
    if (p->kind == CDOF_PERIOD_NONE)
        return cdof_reason(CDOF_EINVALID, err, errlen, "period is missing");
    if (!cdof_period_valid(p))
        return cdof_reason(CDOF_EINVALID, err, errlen,
                           "period (kind %d, days %d to %d) is not a well-formed period",
                           (int)p->kind, (int)p->first_day, (int)p->last_day);
    /* The text only for the reasons: formatting it for every update cost the hub more than the
     * checks themselves. */
    char text[CDOF_PERIOD_TEXT_MAX];
    static int32_t first, last; /* the reporting range, as days (computed once) */
    if (!first) {
        last = cdof_days_from_civil(CDOF_REPORTING_LAST_YEAR, CDOF_REPORTING_LAST_MONTH,
                                    CDOF_REPORTING_LAST_DAY);
        first = cdof_days_from_civil(CDOF_REPORTING_FIRST_YEAR, 1, 1);
    }
    if (p->first_day < first || p->last_day > last) {
        cdof_period_format(p, text, sizeof text);
        return cdof_reason(CDOF_EINVALID, err, errlen,
                           "period '%s' is outside the strategy's reporting range (%d-01-01 to "
                           "%d-%02d-%02d)",
                           text, CDOF_REPORTING_FIRST_YEAR, CDOF_REPORTING_LAST_YEAR,
                           CDOF_REPORTING_LAST_MONTH, CDOF_REPORTING_LAST_DAY);
    }
    if (!cdof_validate_period_fits(m, p->kind)) {
        cdof_period_format(p, text, sizeof text); /* cannot fail: p is well-formed */
        return cdof_reason(CDOF_EINVALID, err, errlen,
                           "period '%s' is %s: metric '%s' (%s) takes %s", text, kind_name(p->kind),
                           m->id, freq_name(m->frequency), freq_accepts(m->frequency));
    }
    if (m->frequency == CDOF_FREQ_POOLED3 && p->kind == CDOF_PERIOD_POOLED_YEARS) {
        int y1, y2, mo, d;
        cdof_civil_from_days(p->first_day, &y1, &mo, &d);
        cdof_civil_from_days(p->last_day, &y2, &mo, &d);
        if (y2 - y1 + 1 != 3) {
            cdof_period_format(p, text, sizeof text);
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "period '%s' spans %d years: metric '%s' takes 3-year pooled "
                               "periods",
                               text, y2 - y1 + 1, m->id);
        }
    }
    return 0;
}

/* A count, numerator or denominator above the metric's multiple of the area's population (one
 * partnership's 1e12 would swamp England's figure and fire alerts in every region). */
static int check_population(const cdof_metric_t *m, const cdof_area_t *a, const char *field,
                            bool has, double v, char *err, size_t errlen)
{
    if (!has || !a || a->population <= 0 || isnan(m->max_per_population))
        return 0;
    double limit = m->max_per_population * a->population;
    if (v > limit)
        return cdof_reason(CDOF_EINVALID, err, errlen,
                           "%s %.15g is implausible: more than %g times the population of %s "
                           "(%.0f; metric '%s', column max_per_population)",
                           field, v, m->max_per_population, a->name, a->population, m->id);
    return 0;
}

/* A rate's or percentage's value (as sent, or from numerator and denominator) outside the
 * metric's plausible range. */
static int check_range(const cdof_metric_t *m, const cdof_update_t *u, char *err, size_t errlen)
{
    if (m->unit == CDOF_UNIT_COUNT)
        return 0;
    bool computed = u->fig.has_numerator && u->fig.has_denominator && u->fig.denominator > 0;
    if (!computed && !u->fig.has_value)
        return 0;
    double v = computed ? u->fig.numerator / u->fig.denominator * m->multiplier : u->fig.value;
    if ((!isnan(m->plausible_min) && v < m->plausible_min) ||
        (!isnan(m->plausible_max) && v > m->plausible_max))
        return cdof_reason(CDOF_EINVALID, err, errlen,
                           "%s %.6g is outside metric '%s''s plausible range %g to %g%s",
                           computed ? "the rate from numerator and denominator" : "value", v, m->id,
                           m->plausible_min, m->plausible_max,
                           m->unit == CDOF_UNIT_PERCENTAGE ? " (percent)" : "");
    return 0;
}

static int check_values(const cdof_metric_t *m, const cdof_area_t *area, const cdof_update_t *u,
                        char *err, size_t errlen)
{
    int rc;
    if ((rc = check_number("numerator", u->fig.has_numerator, u->fig.numerator, err, errlen)) < 0 ||
        (rc = check_number("denominator", u->fig.has_denominator, u->fig.denominator, err,
                           errlen)) < 0 ||
        (rc = check_number("value", u->fig.has_value, u->fig.value, err, errlen)) < 0)
        return rc;
    bool count = m->unit == CDOF_UNIT_COUNT;
    if ((rc = check_population(m, area, "numerator", u->fig.has_numerator, u->fig.numerator, err,
                               errlen)) < 0 ||
        (rc = check_population(m, area, "denominator", u->fig.has_denominator, u->fig.denominator,
                               err, errlen)) < 0 ||
        (rc = check_population(m, area, "value", count && u->fig.has_value, u->fig.value, err,
                               errlen)) < 0)
        return rc;
    if (m->unit == CDOF_UNIT_COUNT) {
        if (u->fig.has_denominator)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "denominator is not used: metric '%s' is a count (give value)",
                               m->id);
        if (!u->fig.has_value && !u->fig.has_numerator)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "value is missing: metric '%s' is a count", m->id);
        if (u->fig.has_value && u->fig.has_numerator && u->fig.value != u->fig.numerator)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "value %.15g and numerator %.15g disagree: metric '%s' is a "
                               "count (give value)",
                               u->fig.value, u->fig.numerator, m->id);
        const char *field = u->fig.has_value ? "value" : "numerator";
        double v = u->fig.has_value ? u->fig.value : u->fig.numerator;
        if (v != floor(v))
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "%s %.15g is not a whole number: metric '%s' is a count", field, v,
                               m->id);
        return 0;
    }
    if (m->method == CDOF_METHOD_WILSON || m->method == CDOF_METHOD_BYAR) {
        const char *method = m->method == CDOF_METHOD_WILSON ? "wilson" : "byar";
        if (!u->fig.has_numerator)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "numerator is missing: metric '%s' (%s) needs numerator and "
                               "denominator",
                               m->id, method);
        if (!u->fig.has_denominator)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "denominator is missing: metric '%s' (%s) needs numerator and "
                               "denominator",
                               m->id, method);
    } else if (!u->fig.has_value && !(u->fig.has_numerator && u->fig.has_denominator)) {
        return cdof_reason(CDOF_EINVALID, err, errlen,
                           "value is missing: metric '%s' needs a value, or numerator and "
                           "denominator",
                           m->id);
    }
    if (u->fig.has_numerator && u->fig.has_denominator) {
        if (u->fig.denominator <= 0)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "denominator %.15g must be greater than 0", u->fig.denominator);
        if (m->unit == CDOF_UNIT_PERCENTAGE && u->fig.numerator > u->fig.denominator)
            return cdof_reason(CDOF_EINVALID, err, errlen,
                               "numerator %.15g is greater than denominator %.15g",
                               u->fig.numerator, u->fig.denominator);
    }
    if (m->unit == CDOF_UNIT_PERCENTAGE && u->fig.has_value && u->fig.value > 100)
        return cdof_reason(CDOF_EINVALID, err, errlen,
                           "value %.15g is more than 100 (metric '%s' is a percentage)",
                           u->fig.value, m->id);
    return check_range(m, u, err, errlen);
}

int cdof_validate_update(const cdof_ref_t *ref, const cdof_scope_t *scope, const cdof_update_t *u,
                         char *err, size_t errlen)
{
    return cdof_validate_update_metric(ref, scope, u, NULL, err, errlen);
}

int cdof_validate_update_metric(const cdof_ref_t *ref, const cdof_scope_t *scope,
                                const cdof_update_t *u, const cdof_metric_t **metric, char *err,
                                size_t errlen)
{
    if (metric)
        *metric = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!ref || !u)
        return cdof_reason(CDOF_EINVALID, err, errlen, "no update");
    if (!u->metric_id || !*u->metric_id)
        return cdof_reason(CDOF_EINVALID, err, errlen, "metric_id is missing");
    const cdof_metric_t *m = cdof_ref_metric(ref, u->metric_id);
    if (!m)
        return cdof_reason(CDOF_EINVALID, err, errlen,
                           "metric_id '%.64s' is not in the metric catalogue", u->metric_id);
    int rc;
    if ((rc = check_area(ref, scope, m, u->area_code, err, errlen)) < 0 ||
        (rc = check_period(m, &u->period, err, errlen)) < 0 ||
        (rc = check_values(m, cdof_ref_area(ref, u->area_code), u, err, errlen)) < 0)
        return rc;
    if (metric)
        *metric = m;
    return 0;
}

int cdof_validate_milestone(const cdof_ref_t *ref, const char *milestone_id,
                            const char *partnership, int32_t date, int32_t today,
                            const char *own_partnership, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!milestone_id || !*milestone_id)
        return cdof_reason(CDOF_EINVALID, err, errlen, "milestone_id is missing");
    if (!cdof_ref_milestone(ref, milestone_id))
        return cdof_reason(CDOF_EINVALID, err, errlen,
                           "milestone_id '%.64s' is not a known milestone", milestone_id);
    if (!partnership || !*partnership)
        return cdof_reason(CDOF_EINVALID, err, errlen, "partnership is missing");
    char d[16], t[16];
    cdof_date_format(date, d, sizeof d);
    if (date < cdof_days_from_civil(2021, 12, 1))
        return cdof_reason(CDOF_EINVALID, err, errlen,
                           "date %s is before the strategy was published (December 2021)", d);
    if (date > today) {
        cdof_date_format(today, t, sizeof t);
        return cdof_reason(CDOF_EINVALID, err, errlen, "date %s is in the future (today is %s)", d,
                           t);
    }
    if (own_partnership && strcmp(partnership, own_partnership) != 0)
        return cdof_reason(CDOF_EINVALID, err, errlen,
                           "partnership '%.64s' is not this agent's ('%.64s')", partnership,
                           own_partnership);
    return 0;
}

int cdof_validate_period_arrival(const cdof_period_t *p, int32_t today, int tolerance_days,
                                 char *err, size_t errlen)
{
    if (p->first_day <= today + tolerance_days)
        return 0;
    char text[CDOF_PERIOD_TEXT_MAX], t[16];
    cdof_period_format(p, text, sizeof text);
    cdof_date_format(today, t, sizeof t);
    return cdof_reason(CDOF_EINVALID, err, errlen,
                       "period '%s' has not begun (today is %s; a period may arrive once it "
                       "has begun, %d day(s) of clock difference allowed)",
                       text, t, tolerance_days);
}
