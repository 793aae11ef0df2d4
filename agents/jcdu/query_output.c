#include "query_output.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cdof_client_alert.h"
#include "cdof_clock.h"
#include "cdof_period.h"
#include "cdof_wire.h"

#define EN_DASH "\xe2\x80\x93"

/* Shorter names for the column declarations below. */
#define TEXT CDOF_TABLE_COL_TEXT
#define CUT  CDOF_TABLE_COL_CUT
#define NUM  CDOF_TABLE_COL_NUM
#define BOOL CDOF_TABLE_COL_BOOL

/* The display or the record shape of a table. */
#define QO_TABLE(display, shown, record)                                                           \
    ((display) ? cdof_table_new(CDOF_TABLE_COLS(shown)) : cdof_table_new(CDOF_TABLE_COLS(record)))

/* Decimals a value is shown with: one for rates and percentages (they have a denominator or
 * an interval), none for whole counts. */
static int display_decimals(double v, bool measured)
{
    return measured || v != floor(v) ? 1 : 0;
}

static void set_interval(cdof_table_t *t, size_t col, double lo, double hi, int decimals)
{
    if (isfinite(lo) && isfinite(hi))
        cdof_table_setf(t, col, "%.*f" EN_DASH "%.*f", decimals, lo == 0 ? 0 : lo, decimals,
                        hi == 0 ? 0 : hi);
}

static void set_day(cdof_table_t *t, size_t col, int32_t day)
{
    char buf[16];
    if (!day)
        return;
    cdof_date_format(day, buf, sizeof buf);
    cdof_table_set(t, col, buf);
}

static const char *verdict_display(Cdof__V1__Verdict v)
{
    return v == CDOF__V1__VERDICT__VERDICT_NOT_COMPARED ? "" : cdof_wire_verdict_name(v);
}

/* England's (or the region's) value is known when it is non-zero or was compared against. */
static bool benchmark_known(double v, Cdof__V1__Verdict verdict)
{
    return v != 0 || verdict != CDOF__V1__VERDICT__VERDICT_NOT_COMPARED;
}

/* --- comparison rows --- */

/* The provisional flags are strings ("true"/"false") in JSON, as they have always been, so that
 * readers comparing with "true" keep working; worse_and_getting_worse and headline are
 * booleans. */
static const cdof_table_col_t comparison_record_cols[] = {TEXT("area_code"),
                                                          TEXT("area_name"),
                                                          TEXT("metric_id"),
                                                          TEXT("period"),
                                                          NUM("numerator"),
                                                          NUM("denominator"),
                                                          NUM("value"),
                                                          NUM("lower_95"),
                                                          NUM("upper_95"),
                                                          NUM("lower_99_8"),
                                                          NUM("upper_99_8"),
                                                          TEXT("vs_england"),
                                                          TEXT("vs_region"),
                                                          NUM("quintile"),
                                                          NUM("england_value"),
                                                          NUM("region_value"),
                                                          NUM("received_ms"),
                                                          TEXT("trend"),
                                                          BOOL("worse_and_getting_worse"),
                                                          TEXT("partnership"),
                                                          TEXT("vs_baseline"),
                                                          TEXT("vs_trajectory"),
                                                          NUM("reported"),
                                                          NUM("expected"),
                                                          TEXT("provisional"),
                                                          TEXT("england_provisional"),
                                                          TEXT("region_provisional")};
static const cdof_table_col_t area_cols[] = {TEXT("metric"), TEXT("period"), NUM("value"),
                                             NUM("95% CI"),  NUM("England"), TEXT("vs Eng"),
                                             TEXT("vs reg"), NUM("Q"),       NUM("cover")};
static const cdof_table_col_t league_cols[] = {TEXT("area"),  CUT("name"),    NUM("value"),
                                               NUM("95% CI"), TEXT("vs Eng"), TEXT("vs reg"),
                                               NUM("Q"),      NUM("cover")};
static const cdof_table_col_t series_cols[] = {TEXT("period"), NUM("numerator"), NUM("denominator"),
                                               NUM("value"),   NUM("95% CI"),    NUM("England"),
                                               TEXT("vs Eng"), TEXT("vs reg"),   NUM("cover")};

static void comparison_record(cdof_table_t *t, const Cdof__V1__ComparisonRow *row)
{
    char period[CDOF_PERIOD_TEXT_MAX];
    cdof_client_period_text(row->period, period, sizeof period);
    cdof_table_set(t, 0, row->area_code);
    cdof_table_set_opt(t, 1, row->area_name);
    cdof_table_set(t, 2, row->metric_id);
    cdof_table_set_opt(t, 3, period);
    if (row->has_numerator)
        cdof_table_set_number(t, 4, row->numerator, -1);
    if (row->has_denominator)
        cdof_table_set_number(t, 5, row->denominator, -1);
    if (row->has_value)
        cdof_table_set_number(t, 6, row->value, -1);
    if (row->has_interval) {
        cdof_table_set_number(t, 7, row->lower_95, -1);
        cdof_table_set_number(t, 8, row->upper_95, -1);
        cdof_table_set_number(t, 9, row->lower_99_8, -1);
        cdof_table_set_number(t, 10, row->upper_99_8, -1);
    }
    cdof_table_set(t, 11, cdof_wire_verdict_name(row->vs_england));
    cdof_table_set(t, 12, cdof_wire_verdict_name(row->vs_region));
    if (row->quintile)
        cdof_table_set_u64(t, 13, row->quintile);
    if (benchmark_known(row->england_value, row->vs_england))
        cdof_table_set_number(t, 14, row->england_value, -1);
    if (benchmark_known(row->region_value, row->vs_region))
        cdof_table_set_number(t, 15, row->region_value, -1);
    if (row->received_ms)
        cdof_table_set_i64(t, 16, row->received_ms);
    /* Stored comparisons: trend, partnership, count baselines. */
    static const char *const trends[] = {NULL, "no_significant_change", "increasing", "decreasing"};
    if (row->trend > 0 && (size_t)row->trend < sizeof trends / sizeof trends[0])
        cdof_table_set(t, 17, trends[row->trend]);
    cdof_table_set_bool(t, 18, row->worse_and_getting_worse);
    cdof_table_set_opt(t, 19, row->partnership);
    cdof_table_set(t, 20, cdof_wire_verdict_name(row->vs_baseline));
    cdof_table_set(t, 21, cdof_wire_verdict_name(row->vs_trajectory));
    /* Coverage: an aggregate's own, an area's England benchmark's. */
    if (row->expected) {
        cdof_table_set_u64(t, 22, row->reported);
        cdof_table_set_u64(t, 23, row->expected);
    }
    cdof_table_set_bool(t, 24, row->provisional);
    cdof_table_set_bool(t, 25, row->england_provisional);
    cdof_table_set_bool(t, 26, row->region_provisional);
}

/* A verdict against a provisional benchmark (summed from an incomplete period) ends in '*'. */
static void set_verdict(cdof_table_t *t, size_t col, Cdof__V1__Verdict v, bool provisional)
{
    const char *name = verdict_display(v);
    cdof_table_setf(t, col, "%s%s", name, provisional && *name ? "*" : "");
}

/* "152/153", with '*' when the figure itself is provisional; nothing when not counted. */
static void set_cover(cdof_table_t *t, size_t col, const Cdof__V1__ComparisonRow *row)
{
    if (row->expected)
        cdof_table_setf(t, col, "%u/%u%s", row->reported, row->expected,
                        row->provisional ? "*" : "");
}

static void comparison_display(cdof_table_t *t, cdof_qo_view_t view,
                               const Cdof__V1__ComparisonRow *row)
{
    char period[CDOF_PERIOD_TEXT_MAX];
    cdof_client_period_text(row->period, period, sizeof period);
    int d = display_decimals(row->value, row->has_denominator || row->has_interval);
    size_t c = 0;
    switch (view) {
    case CDOF_QO_VIEW_AREA:
        cdof_table_set(t, c++, row->metric_id);
        cdof_table_set(t, c++, period);
        break;
    case CDOF_QO_VIEW_LEAGUE:
        cdof_table_set(t, c++, row->area_code);
        cdof_table_set(t, c++, row->area_name);
        break;
    case CDOF_QO_VIEW_SERIES:
        cdof_table_set(t, c++, period);
        if (row->has_numerator)
            cdof_table_set_number(t, c, row->numerator, -1);
        c++;
        if (row->has_denominator)
            cdof_table_set_number(t, c, row->denominator, -1);
        c++;
        break;
    }
    if (row->has_value)
        cdof_table_set_number(t, c, row->value, d);
    c++;
    if (row->has_interval)
        set_interval(t, c, row->lower_95, row->upper_95, d);
    c++;
    if (view != CDOF_QO_VIEW_LEAGUE) {
        if (benchmark_known(row->england_value, row->vs_england))
            cdof_table_set_number(t, c, row->england_value, d);
        c++;
    }
    set_verdict(t, c++, row->vs_england, row->england_provisional);
    set_verdict(t, c++, row->vs_region, row->region_provisional);
    if (view != CDOF_QO_VIEW_SERIES && row->quintile)
        cdof_table_set_u64(t, c, row->quintile);
    if (view != CDOF_QO_VIEW_SERIES)
        c++;
    set_cover(t, c, row);
}

cdof_table_t *cdof_qo_comparisons(Cdof__V1__ComparisonRow *const *rows, size_t n,
                                  cdof_qo_view_t view, bool display)
{
    cdof_table_t *t;
    if (!display)
        t = cdof_table_new(CDOF_TABLE_COLS(comparison_record_cols));
    else if (view == CDOF_QO_VIEW_AREA)
        t = cdof_table_new(CDOF_TABLE_COLS(area_cols));
    else if (view == CDOF_QO_VIEW_LEAGUE)
        t = cdof_table_new(CDOF_TABLE_COLS(league_cols));
    else
        t = cdof_table_new(CDOF_TABLE_COLS(series_cols));
    for (size_t i = 0; t && i < n && cdof_table_add_row(t) == 0; i++) {
        if (display)
            comparison_display(t, view, rows[i]);
        else
            comparison_record(t, rows[i]);
    }
    return cdof_table_finish(t);
}

/* --- agents and silences --- */

cdof_table_t *cdof_qo_agents(Cdof__V1__AgentStatus *const *agents, size_t n, bool display)
{
    static const cdof_table_col_t record[] = {TEXT("agent_id"),     NUM("high_water"),
                                              NUM("last_heard_ms"), TEXT("last_heard"),
                                              NUM("outbox_depth"),  NUM("oldest_unacked_ms")};
    static const cdof_table_col_t shown[] = {CUT("agent"), NUM("high water"), TEXT("last heard"),
                                             NUM("outbox"), NUM("oldest unacked")};
    cdof_table_t *t = QO_TABLE(display, shown, record);
    for (size_t i = 0; t && i < n && cdof_table_add_row(t) == 0; i++) {
        const Cdof__V1__AgentStatus *a = agents[i];
        cdof_table_set(t, 0, a->agent_id);
        cdof_table_set_u64(t, 1, a->high_water);
        if (display) {
            cdof_table_set_time(t, 2, a->last_heard_ms);
            cdof_table_set_u64(t, 3, a->outbox_depth);
            cdof_table_setf(t, 4, "%.1f s", (double)a->oldest_unacked_ms / 1000.0);
        } else {
            if (a->last_heard_ms)
                cdof_table_set_i64(t, 2, a->last_heard_ms);
            cdof_table_set_time(t, 3, a->last_heard_ms);
            cdof_table_set_u64(t, 4, a->outbox_depth);
            cdof_table_set_u64(t, 5, a->oldest_unacked_ms);
        }
    }
    return cdof_table_finish(t);
}

/* Silence records: the table shows who (and through which key) made and ended each. */
cdof_table_t *cdof_qo_silences(Cdof__V1__Silence *const *silences, size_t n, bool display)
{
    static const cdof_table_col_t record[] = {
        NUM("id"),         TEXT("matcher"),    NUM("until_ms"),
        TEXT("until"),     TEXT("by"),         TEXT("key_id"),
        NUM("created_ms"), TEXT("scope_team"), TEXT("scope_region"),
        NUM("ended_ms"),   TEXT("ended_by"),   TEXT("ended_key_id"),
        TEXT("reason")};
    static const cdof_table_col_t shown[] = {NUM("id"),  TEXT("matcher"), TEXT("until"),
                                             TEXT("by"), TEXT("ended"),   CUT("reason")};
    cdof_table_t *t = QO_TABLE(display, shown, record);
    for (size_t i = 0; t && i < n && cdof_table_add_row(t) == 0; i++) {
        const Cdof__V1__Silence *s = silences[i];
        char until[32] = "";
        cdof_clock_format(s->until_ms, until, sizeof until);
        cdof_table_set_i64(t, 0, (int64_t)s->id);
        cdof_table_set(t, 1, s->matcher);
        if (display) {
            char when[32] = "";
            if (s->ended_ms)
                cdof_clock_format(s->ended_ms, when, sizeof when);
            cdof_table_set(t, 2, until);
            cdof_table_setf(t, 3, "%s%s%s", s->by, *s->key_id ? " via " : "", s->key_id);
            if (s->ended_ms)
                cdof_table_setf(t, 4, "%s by %s%s%s", when, s->ended_by,
                                *s->ended_key_id ? " via " : "", s->ended_key_id);
            else
                cdof_table_set(t, 4, "");
            cdof_table_set(t, 5, s->reason);
        } else {
            cdof_table_set_i64(t, 2, s->until_ms);
            cdof_table_set(t, 3, until);
            cdof_table_set(t, 4, s->by);
            cdof_table_set(t, 5, s->key_id);
            cdof_table_set_i64(t, 6, s->created_ms);
            cdof_table_set(t, 7, s->scope_team);
            cdof_table_set(t, 8, s->scope_region);
            cdof_table_set_i64(t, 9, s->ended_ms);
            cdof_table_set(t, 10, s->ended_by);
            cdof_table_set(t, 11, s->ended_key_id);
            cdof_table_set(t, 12, s->reason);
        }
    }
    return cdof_table_finish(t);
}

/* --- national summary --- */

cdof_table_t *cdof_qo_national(Cdof__V1__NationalRow *const *rows, size_t n, bool display)
{
    static const cdof_table_col_t record[] = {TEXT("metric_id"),       TEXT("metric_name"),
                                              BOOL("headline"),        TEXT("kind"),
                                              TEXT("baseline_period"), NUM("baseline"),
                                              TEXT("latest_period"),   NUM("latest"),
                                              NUM("change"),           TEXT("commitment"),
                                              NUM("target"),           NUM("progress"),
                                              TEXT("source"),          NUM("latest_reported"),
                                              NUM("latest_expected"),  TEXT("latest_provisional")};
    static const cdof_table_col_t shown[] = {CUT("metric"),  TEXT("baseline"), NUM(""),
                                             TEXT("latest"), NUM(""),          NUM("change"),
                                             NUM("target"),  NUM("progress"),  NUM("cover")};
    cdof_table_t *t = QO_TABLE(display, shown, record);
    for (size_t i = 0; t && i < n && cdof_table_add_row(t) == 0; i++) {
        const Cdof__V1__NationalRow *r = rows[i];
        double change = r->has_baseline && r->has_latest && strcmp(r->kind, "cumulative") != 0
                            ? r->latest - r->baseline
                            : NAN;
        /* Whole numbers (counts, most targets) without decimals keep the table in 80 columns. */
        bool whole = (!r->has_latest || r->latest == floor(r->latest)) &&
                     (!r->has_baseline || r->baseline == floor(r->baseline));
        int dec = display ? (whole ? 0 : 1) : -1;
        cdof_table_set(t, 0, r->metric_id);
        if (display) {
            cdof_table_set_opt(t, 1, r->baseline_period);
            if (r->has_baseline)
                cdof_table_set_number(t, 2, r->baseline, dec);
            /* A headline from an incomplete period (there is no complete one yet) ends in '*'. */
            char latest[CDOF_PERIOD_TEXT_MAX + 2];
            snprintf(latest, sizeof latest, "%s%s", r->latest_period ? r->latest_period : "",
                     r->latest_provisional ? "*" : "");
            cdof_table_set_opt(t, 3, latest);
            if (r->latest_expected)
                cdof_table_setf(t, 8, "%u/%u", r->latest_reported, r->latest_expected);
            if (r->has_latest)
                cdof_table_set_number(t, 4, r->latest, dec);
            cdof_table_set_number(t, 5, change, dec);
            if (r->has_target)
                cdof_table_set_number(t, 6, r->target, r->target == floor(r->target) ? 0 : 1);
            if (r->has_progress)
                cdof_table_setf(t, 7, "%.0f%%", r->progress);
        } else {
            cdof_table_set(t, 1, r->metric_name);
            cdof_table_set_bool(t, 2, r->headline);
            cdof_table_set_opt(t, 3, r->kind);
            cdof_table_set_opt(t, 4, r->baseline_period);
            if (r->has_baseline)
                cdof_table_set_number(t, 5, r->baseline, dec);
            cdof_table_set_opt(t, 6, r->latest_period);
            if (r->has_latest)
                cdof_table_set_number(t, 7, r->latest, dec);
            cdof_table_set_number(t, 8, change, dec);
            cdof_table_set_opt(t, 9, r->commitment);
            if (r->has_target)
                cdof_table_set_number(t, 10, r->target, dec);
            if (r->has_progress)
                cdof_table_set_number(t, 11, r->progress, dec);
            cdof_table_set_opt(t, 12, r->source);
            if (r->latest_expected) {
                cdof_table_set_u64(t, 13, r->latest_reported);
                cdof_table_set_u64(t, 14, r->latest_expected);
            }
            cdof_table_set_bool(t, 15, r->latest_provisional);
        }
    }
    return cdof_table_finish(t);
}

/* --- periods, milestones, rejections --- */

static const char *pstate_name(Cdof__V1__PeriodState s)
{
    switch (s) {
    case CDOF__V1__PERIOD_STATE__PERIOD_STATE_OPEN:
        return "open";
    case CDOF__V1__PERIOD_STATE__PERIOD_STATE_COMPLETE:
        return "complete";
    case CDOF__V1__PERIOD_STATE__PERIOD_STATE_CLOSED:
        return "closed";
    default:
        return "";
    }
}

/* One row of a period's table: the state (and event) with one group's coverage. */
static void period_row(cdof_table_t *t, const Cdof__V1__PeriodStatus *st,
                       const Cdof__V1__CoverageGroup *g, bool display)
{
    char period[CDOF_PERIOD_TEXT_MAX], missing[4096] = "", how[96];
    cdof_client_period_text(st->period, period, sizeof period);
    uint32_t rep = g ? g->reported : st->reported, exp = g ? g->expected : st->expected;
    const char *code = g ? g->code : CDOF_ENGLAND_CODE, *name = g ? g->name : "England";
    size_t len = 0;
    for (size_t i = 0; g && i < g->n_missing && len < sizeof missing - 16; i++)
        len += (size_t)snprintf(missing + len, sizeof missing - len, "%s%s", i ? " " : "",
                                g->missing[i]);
    const char *state = pstate_name(st->state);
    if (cdof_table_add_row(t) < 0)
        return;
    if (display) {
        snprintf(how, sizeof how, "%s%s%s", st->event && *st->event ? st->event : state,
                 st->completed_by && *st->completed_by ? ": " : "",
                 st->completed_by ? st->completed_by : "");
        if (st->closed_by && *st->closed_by && (!st->event || !strcmp(st->event, "closed")))
            snprintf(how, sizeof how, "closed by %s: %s", st->closed_by,
                     st->reason ? st->reason : "");
        cdof_table_set(t, 0, period);
        cdof_table_set(t, 1, how);
        cdof_table_set(t, 2, name);
        cdof_table_setf(t, 3, "%u/%u", rep, exp);
        cdof_table_set_opt(t, 4, missing);
        return;
    }
    cdof_table_set(t, 0, st->metric_id);
    cdof_table_set_opt(t, 1, period);
    cdof_table_set(t, 2, state);
    cdof_table_set_opt(t, 3, st->completed_by);
    cdof_table_set_opt(t, 4, st->event);
    cdof_table_set(t, 5, code);
    cdof_table_set_opt(t, 6, name);
    cdof_table_set_u64(t, 7, rep);
    cdof_table_set_u64(t, 8, exp);
    cdof_table_set_opt(t, 9, missing);
    cdof_table_set_number(t, 10, st->threshold * 100, -1);
    set_day(t, 11, st->deadline_day);
    cdof_table_set_opt(t, 12, st->closed_by);
    cdof_table_set_opt(t, 13, st->reason);
    cdof_table_set_u64(t, 14, st->revisions);
    cdof_table_set_i64(t, 15, st->changed_ms);
}

cdof_table_t *cdof_qo_periods(Cdof__V1__PeriodStatus *const *periods, size_t n, bool display)
{
    static const cdof_table_col_t record[] = {TEXT("metric_id"),
                                              TEXT("period"),
                                              TEXT("state"),
                                              TEXT("completed_by"),
                                              TEXT("event"),
                                              TEXT("area_code"),
                                              TEXT("area_name"),
                                              NUM("reported"),
                                              NUM("expected"),
                                              TEXT("missing"),
                                              NUM("threshold_percent"),
                                              TEXT("deadline"),
                                              TEXT("closed_by"),
                                              TEXT("reason"),
                                              NUM("revisions"),
                                              NUM("changed_ms")};
    static const cdof_table_col_t shown[] = {TEXT("period"), CUT("state"), CUT("coverage of"),
                                             NUM("reported"), CUT("missing")};
    cdof_table_t *t = QO_TABLE(display, shown, record);
    for (size_t i = 0; t && i < n && !cdof_table_status(t); i++) {
        const Cdof__V1__PeriodStatus *st = periods[i];
        if (st->n_groups == 0)
            period_row(t, st, NULL, display);
        for (size_t g = 0; g < st->n_groups; g++)
            period_row(t, st, st->groups[g], display);
    }
    return cdof_table_finish(t);
}

cdof_table_t *cdof_qo_milestones(Cdof__V1__MilestoneRow *const *rows, size_t n,
                                 const char *const *names, bool display)
{
    static const cdof_table_col_t record[] = {TEXT("partnership"),  TEXT("partnership_name"),
                                              TEXT("milestone_id"), TEXT("deliverable"),
                                              TEXT("status"),       TEXT("due"),
                                              TEXT("done_on"),      TEXT("overdue_since"),
                                              TEXT("next_due"),     TEXT("ref")};
    static const cdof_table_col_t shown[] = {CUT("partnership"), CUT("milestone"),
                                             TEXT("status"),     TEXT("due"),
                                             TEXT("done"),       TEXT("overdue since")};
    cdof_table_t *t = QO_TABLE(display, shown, record);
    for (size_t i = 0; t && i < n && cdof_table_add_row(t) == 0; i++) {
        const Cdof__V1__MilestoneRow *r = rows[i];
        /* The table shows the name people know; records keep the id and add the name. */
        const char *name = names && names[i] ? names[i] : r->partnership;
        if (display) {
            cdof_table_set(t, 0, name);
            cdof_table_set(t, 1, r->milestone_id);
            cdof_table_set(t, 2, r->status);
            set_day(t, 3, r->due_day);
            set_day(t, 4, r->done_day);
            set_day(t, 5, r->overdue_since);
        } else {
            cdof_table_set(t, 0, r->partnership);
            cdof_table_set_opt(t, 1, names ? name : NULL);
            cdof_table_set(t, 2, r->milestone_id);
            cdof_table_set(t, 3, r->deliverable);
            cdof_table_set(t, 4, r->status);
            set_day(t, 5, r->due_day);
            set_day(t, 6, r->done_day);
            set_day(t, 7, r->overdue_since);
            set_day(t, 8, r->next_due);
            cdof_table_set_opt(t, 9, r->ref);
        }
    }
    return cdof_table_finish(t);
}

cdof_table_t *cdof_qo_rejections(Cdof__V1__Rejection *const *rows, size_t n, bool display)
{
    static const cdof_table_col_t record[] = {TEXT("agent_id"), TEXT("partnership"),
                                              NUM("sequence"),  NUM("rejected_ms"),
                                              TEXT("rejected"), TEXT("reason")};
    static const cdof_table_col_t shown[] = {CUT("agent"), CUT("partnership"), NUM("sequence"),
                                             TEXT("refused"), CUT("reason")};
    cdof_table_t *t = QO_TABLE(display, shown, record);
    for (size_t i = 0; t && i < n && cdof_table_add_row(t) == 0; i++) {
        const Cdof__V1__Rejection *r = rows[i];
        cdof_table_set(t, 0, r->agent_id);
        cdof_table_set_opt(t, 1, r->partnership);
        cdof_table_set_u64(t, 2, r->sequence);
        if (!display && r->rejected_ms)
            cdof_table_set_i64(t, 3, r->rejected_ms);
        cdof_table_set_time(t, display ? 3 : 4, r->rejected_ms);
        cdof_table_set(t, display ? 4 : 5, r->reason);
    }
    return cdof_table_finish(t);
}
