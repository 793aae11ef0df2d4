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

/* Every table has two shapes, each with its own columns: the record (CSV and JSON: every field,
 * at full precision) and the table shown (the aligned text: fewer columns, rounded, some fields
 * put together). A record's columns are named by an enum PREFIX_FIELD, the shown table's by
 * PREFIX_SHOWN_FIELD after the record field it shows (comparisons have one shown table per view:
 * AREA_, LEAGUE_ and SERIES_FIELD); the comment above each shown list says what it puts
 * together. The column lists are indexed by those enums and checked to have one entry each, and
 * every cell is set by its column's name, so a column moved or added cannot shift the cells
 * after it. A row is filled by one branch per shape, never by cells shared between the two,
 * whose columns need not line up. */

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

/* The record: every field of a comparison row. The provisional flags are strings
 * ("true"/"false") in JSON, as they have always been, so that readers comparing with "true" keep
 * working; worse_and_getting_worse and headline are booleans. */
enum {
    CMP_AREA_CODE,
    CMP_AREA_NAME,
    CMP_METRIC_ID,
    CMP_PERIOD,
    CMP_NUMERATOR,
    CMP_DENOMINATOR,
    CMP_VALUE,
    CMP_LOWER_95,
    CMP_UPPER_95,
    CMP_LOWER_99_8,
    CMP_UPPER_99_8,
    CMP_VS_ENGLAND,
    CMP_VS_REGION,
    CMP_QUINTILE,
    CMP_ENGLAND_VALUE,
    CMP_REGION_VALUE,
    CMP_RECEIVED_MS,
    CMP_TREND,
    CMP_WORSE_AND_GETTING_WORSE,
    CMP_PARTNERSHIP,
    CMP_VS_BASELINE,
    CMP_VS_TRAJECTORY,
    CMP_REPORTED,
    CMP_EXPECTED,
    CMP_PROVISIONAL,
    CMP_ENGLAND_PROVISIONAL,
    CMP_REGION_PROVISIONAL,
    CMP_NCOLS
};
static const cdof_table_col_t comparison_record_cols[] = {
    [CMP_AREA_CODE] = TEXT("area_code"),
    [CMP_AREA_NAME] = TEXT("area_name"),
    [CMP_METRIC_ID] = TEXT("metric_id"),
    [CMP_PERIOD] = TEXT("period"),
    [CMP_NUMERATOR] = NUM("numerator"),
    [CMP_DENOMINATOR] = NUM("denominator"),
    [CMP_VALUE] = NUM("value"),
    [CMP_LOWER_95] = NUM("lower_95"),
    [CMP_UPPER_95] = NUM("upper_95"),
    [CMP_LOWER_99_8] = NUM("lower_99_8"),
    [CMP_UPPER_99_8] = NUM("upper_99_8"),
    [CMP_VS_ENGLAND] = TEXT("vs_england"),
    [CMP_VS_REGION] = TEXT("vs_region"),
    [CMP_QUINTILE] = NUM("quintile"),
    [CMP_ENGLAND_VALUE] = NUM("england_value"),
    [CMP_REGION_VALUE] = NUM("region_value"),
    [CMP_RECEIVED_MS] = NUM("received_ms"),
    [CMP_TREND] = TEXT("trend"),
    [CMP_WORSE_AND_GETTING_WORSE] = BOOL("worse_and_getting_worse"),
    [CMP_PARTNERSHIP] = TEXT("partnership"),
    [CMP_VS_BASELINE] = TEXT("vs_baseline"),
    [CMP_VS_TRAJECTORY] = TEXT("vs_trajectory"),
    [CMP_REPORTED] = NUM("reported"),
    [CMP_EXPECTED] = NUM("expected"),
    [CMP_PROVISIONAL] = TEXT("provisional"),
    [CMP_ENGLAND_PROVISIONAL] = TEXT("england_provisional"),
    [CMP_REGION_PROVISIONAL] = TEXT("region_provisional")};
CDOF_TABLE_COLS_CHECK(comparison_record_cols, CMP_NCOLS);

/* The tables shown, one per view: each picks from the record's fields those its readers need,
 * rounded for reading (the value and interval together as "95% CI", the verdicts marked '*'
 * when their benchmark is provisional, reported and expected together as "cover"). */

/* `area`: one row per metric and period. */
enum {
    AREA_METRIC_ID,
    AREA_PERIOD,
    AREA_VALUE,
    AREA_CI_95,
    AREA_ENGLAND_VALUE,
    AREA_VS_ENGLAND,
    AREA_VS_REGION,
    AREA_QUINTILE,
    AREA_COVER,
    AREA_NCOLS
};
static const cdof_table_col_t area_cols[] = {[AREA_METRIC_ID] = TEXT("metric"),
                                             [AREA_PERIOD] = TEXT("period"),
                                             [AREA_VALUE] = NUM("value"),
                                             [AREA_CI_95] = NUM("95% CI"),
                                             [AREA_ENGLAND_VALUE] = NUM("England"),
                                             [AREA_VS_ENGLAND] = TEXT("vs Eng"),
                                             [AREA_VS_REGION] = TEXT("vs reg"),
                                             [AREA_QUINTILE] = NUM("Q"),
                                             [AREA_COVER] = NUM("cover")};
CDOF_TABLE_COLS_CHECK(area_cols, AREA_NCOLS);

/* `league` and `rolling`: one row per area. */
enum {
    LEAGUE_AREA_CODE,
    LEAGUE_AREA_NAME,
    LEAGUE_VALUE,
    LEAGUE_CI_95,
    LEAGUE_VS_ENGLAND,
    LEAGUE_VS_REGION,
    LEAGUE_QUINTILE,
    LEAGUE_COVER,
    LEAGUE_NCOLS
};
static const cdof_table_col_t league_cols[] = {
    [LEAGUE_AREA_CODE] = TEXT("area"),    [LEAGUE_AREA_NAME] = CUT("name"),
    [LEAGUE_VALUE] = NUM("value"),        [LEAGUE_CI_95] = NUM("95% CI"),
    [LEAGUE_VS_ENGLAND] = TEXT("vs Eng"), [LEAGUE_VS_REGION] = TEXT("vs reg"),
    [LEAGUE_QUINTILE] = NUM("Q"),         [LEAGUE_COVER] = NUM("cover")};
CDOF_TABLE_COLS_CHECK(league_cols, LEAGUE_NCOLS);

/* `series`: one row per period. */
enum {
    SERIES_PERIOD,
    SERIES_NUMERATOR,
    SERIES_DENOMINATOR,
    SERIES_VALUE,
    SERIES_CI_95,
    SERIES_ENGLAND_VALUE,
    SERIES_VS_ENGLAND,
    SERIES_VS_REGION,
    SERIES_COVER,
    SERIES_NCOLS
};
static const cdof_table_col_t series_cols[] = {[SERIES_PERIOD] = TEXT("period"),
                                               [SERIES_NUMERATOR] = NUM("numerator"),
                                               [SERIES_DENOMINATOR] = NUM("denominator"),
                                               [SERIES_VALUE] = NUM("value"),
                                               [SERIES_CI_95] = NUM("95% CI"),
                                               [SERIES_ENGLAND_VALUE] = NUM("England"),
                                               [SERIES_VS_ENGLAND] = TEXT("vs Eng"),
                                               [SERIES_VS_REGION] = TEXT("vs reg"),
                                               [SERIES_COVER] = NUM("cover")};
CDOF_TABLE_COLS_CHECK(series_cols, SERIES_NCOLS);

static void comparison_record(cdof_table_t *t, const Cdof__V1__ComparisonRow *row)
{
    char period[CDOF_PERIOD_TEXT_MAX];
    cdof_client_period_text(row->period, period, sizeof period);
    cdof_table_set(t, CMP_AREA_CODE, row->area_code);
    cdof_table_set_opt(t, CMP_AREA_NAME, row->area_name);
    cdof_table_set(t, CMP_METRIC_ID, row->metric_id);
    cdof_table_set_opt(t, CMP_PERIOD, period);
    if (row->has_numerator)
        cdof_table_set_number(t, CMP_NUMERATOR, row->numerator, -1);
    if (row->has_denominator)
        cdof_table_set_number(t, CMP_DENOMINATOR, row->denominator, -1);
    if (row->has_value)
        cdof_table_set_number(t, CMP_VALUE, row->value, -1);
    if (row->has_interval) {
        cdof_table_set_number(t, CMP_LOWER_95, row->lower_95, -1);
        cdof_table_set_number(t, CMP_UPPER_95, row->upper_95, -1);
        cdof_table_set_number(t, CMP_LOWER_99_8, row->lower_99_8, -1);
        cdof_table_set_number(t, CMP_UPPER_99_8, row->upper_99_8, -1);
    }
    cdof_table_set(t, CMP_VS_ENGLAND, cdof_wire_verdict_name(row->vs_england));
    cdof_table_set(t, CMP_VS_REGION, cdof_wire_verdict_name(row->vs_region));
    if (row->quintile)
        cdof_table_set_u64(t, CMP_QUINTILE, row->quintile);
    if (benchmark_known(row->england_value, row->vs_england))
        cdof_table_set_number(t, CMP_ENGLAND_VALUE, row->england_value, -1);
    if (benchmark_known(row->region_value, row->vs_region))
        cdof_table_set_number(t, CMP_REGION_VALUE, row->region_value, -1);
    if (row->received_ms)
        cdof_table_set_i64(t, CMP_RECEIVED_MS, row->received_ms);
    /* Stored comparisons: trend, partnership, count baselines. */
    static const char *const trends[] = {NULL, "no_significant_change", "increasing", "decreasing"};
    if (row->trend > 0 && (size_t)row->trend < sizeof trends / sizeof trends[0])
        cdof_table_set(t, CMP_TREND, trends[row->trend]);
    cdof_table_set_bool(t, CMP_WORSE_AND_GETTING_WORSE, row->worse_and_getting_worse);
    cdof_table_set_opt(t, CMP_PARTNERSHIP, row->partnership);
    cdof_table_set(t, CMP_VS_BASELINE, cdof_wire_verdict_name(row->vs_baseline));
    cdof_table_set(t, CMP_VS_TRAJECTORY, cdof_wire_verdict_name(row->vs_trajectory));
    /* Coverage: an aggregate's own, an area's England benchmark's. */
    if (row->expected) {
        cdof_table_set_u64(t, CMP_REPORTED, row->reported);
        cdof_table_set_u64(t, CMP_EXPECTED, row->expected);
    }
    cdof_table_set_bool(t, CMP_PROVISIONAL, row->provisional);
    cdof_table_set_bool(t, CMP_ENGLAND_PROVISIONAL, row->england_provisional);
    cdof_table_set_bool(t, CMP_REGION_PROVISIONAL, row->region_provisional);
}

/* The cells the views share, each written into the column the caller names. */

static void set_value(cdof_table_t *t, size_t col, const Cdof__V1__ComparisonRow *row, int d)
{
    if (row->has_value)
        cdof_table_set_number(t, col, row->value, d);
}

static void set_ci_95(cdof_table_t *t, size_t col, const Cdof__V1__ComparisonRow *row, int d)
{
    if (row->has_interval)
        set_interval(t, col, row->lower_95, row->upper_95, d);
}

static void set_england_value(cdof_table_t *t, size_t col, const Cdof__V1__ComparisonRow *row,
                              int d)
{
    if (benchmark_known(row->england_value, row->vs_england))
        cdof_table_set_number(t, col, row->england_value, d);
}

/* A verdict against a provisional benchmark (summed from an incomplete period) ends in '*'. */
static void set_verdict(cdof_table_t *t, size_t col, Cdof__V1__Verdict v, bool provisional)
{
    const char *name = verdict_display(v);
    cdof_table_setf(t, col, "%s%s", name, provisional && *name ? "*" : "");
}

static void set_quintile(cdof_table_t *t, size_t col, const Cdof__V1__ComparisonRow *row)
{
    if (row->quintile)
        cdof_table_set_u64(t, col, row->quintile);
}

/* "152/153", with '*' when the figure itself is provisional; nothing when not counted. */
static void set_cover(cdof_table_t *t, size_t col, const Cdof__V1__ComparisonRow *row)
{
    if (row->expected)
        cdof_table_setf(t, col, "%u/%u%s", row->reported, row->expected,
                        row->provisional ? "*" : "");
}

static void comparison_shown(cdof_table_t *t, cdof_qo_view_t view,
                             const Cdof__V1__ComparisonRow *row)
{
    char period[CDOF_PERIOD_TEXT_MAX];
    cdof_client_period_text(row->period, period, sizeof period);
    int d = display_decimals(row->value, row->has_denominator || row->has_interval);
    switch (view) {
    case CDOF_QO_VIEW_AREA:
        cdof_table_set(t, AREA_METRIC_ID, row->metric_id);
        cdof_table_set(t, AREA_PERIOD, period);
        set_value(t, AREA_VALUE, row, d);
        set_ci_95(t, AREA_CI_95, row, d);
        set_england_value(t, AREA_ENGLAND_VALUE, row, d);
        set_verdict(t, AREA_VS_ENGLAND, row->vs_england, row->england_provisional);
        set_verdict(t, AREA_VS_REGION, row->vs_region, row->region_provisional);
        set_quintile(t, AREA_QUINTILE, row);
        set_cover(t, AREA_COVER, row);
        break;
    case CDOF_QO_VIEW_LEAGUE:
        cdof_table_set(t, LEAGUE_AREA_CODE, row->area_code);
        cdof_table_set(t, LEAGUE_AREA_NAME, row->area_name);
        set_value(t, LEAGUE_VALUE, row, d);
        set_ci_95(t, LEAGUE_CI_95, row, d);
        set_verdict(t, LEAGUE_VS_ENGLAND, row->vs_england, row->england_provisional);
        set_verdict(t, LEAGUE_VS_REGION, row->vs_region, row->region_provisional);
        set_quintile(t, LEAGUE_QUINTILE, row);
        set_cover(t, LEAGUE_COVER, row);
        break;
    case CDOF_QO_VIEW_SERIES:
        cdof_table_set(t, SERIES_PERIOD, period);
        if (row->has_numerator)
            cdof_table_set_number(t, SERIES_NUMERATOR, row->numerator, -1);
        if (row->has_denominator)
            cdof_table_set_number(t, SERIES_DENOMINATOR, row->denominator, -1);
        set_value(t, SERIES_VALUE, row, d);
        set_ci_95(t, SERIES_CI_95, row, d);
        set_england_value(t, SERIES_ENGLAND_VALUE, row, d);
        set_verdict(t, SERIES_VS_ENGLAND, row->vs_england, row->england_provisional);
        set_verdict(t, SERIES_VS_REGION, row->vs_region, row->region_provisional);
        set_cover(t, SERIES_COVER, row);
        break;
    }
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
            comparison_shown(t, view, rows[i]);
        else
            comparison_record(t, rows[i]);
    }
    return cdof_table_finish(t);
}

/* --- agents and silences --- */

enum {
    AGT_AGENT_ID,
    AGT_HIGH_WATER,
    AGT_LAST_HEARD_MS,
    AGT_LAST_HEARD,
    AGT_OUTBOX_DEPTH,
    AGT_OLDEST_UNACKED_MS,
    AGT_NCOLS
};
static const cdof_table_col_t agent_record_cols[] = {
    [AGT_AGENT_ID] = TEXT("agent_id"),          [AGT_HIGH_WATER] = NUM("high_water"),
    [AGT_LAST_HEARD_MS] = NUM("last_heard_ms"), [AGT_LAST_HEARD] = TEXT("last_heard"),
    [AGT_OUTBOX_DEPTH] = NUM("outbox_depth"),   [AGT_OLDEST_UNACKED_MS] = NUM("oldest_unacked_ms")};
CDOF_TABLE_COLS_CHECK(agent_record_cols, AGT_NCOLS);

/* oldest_unacked_ms is shown in seconds. */
enum {
    AGT_SHOWN_AGENT_ID,
    AGT_SHOWN_HIGH_WATER,
    AGT_SHOWN_LAST_HEARD,
    AGT_SHOWN_OUTBOX_DEPTH,
    AGT_SHOWN_OLDEST_UNACKED,
    AGT_SHOWN_NCOLS
};
static const cdof_table_col_t agent_shown_cols[] = {[AGT_SHOWN_AGENT_ID] = CUT("agent"),
                                                    [AGT_SHOWN_HIGH_WATER] = NUM("high water"),
                                                    [AGT_SHOWN_LAST_HEARD] = TEXT("last heard"),
                                                    [AGT_SHOWN_OUTBOX_DEPTH] = NUM("outbox"),
                                                    [AGT_SHOWN_OLDEST_UNACKED] =
                                                        NUM("oldest unacked")};
CDOF_TABLE_COLS_CHECK(agent_shown_cols, AGT_SHOWN_NCOLS);

cdof_table_t *cdof_qo_agents(Cdof__V1__AgentStatus *const *agents, size_t n, bool display)
{
    cdof_table_t *t = QO_TABLE(display, agent_shown_cols, agent_record_cols);
    for (size_t i = 0; t && i < n && cdof_table_add_row(t) == 0; i++) {
        const Cdof__V1__AgentStatus *a = agents[i];
        if (display) {
            cdof_table_set(t, AGT_SHOWN_AGENT_ID, a->agent_id);
            cdof_table_set_u64(t, AGT_SHOWN_HIGH_WATER, a->high_water);
            cdof_table_set_time(t, AGT_SHOWN_LAST_HEARD, a->last_heard_ms);
            cdof_table_set_u64(t, AGT_SHOWN_OUTBOX_DEPTH, a->outbox_depth);
            cdof_table_setf(t, AGT_SHOWN_OLDEST_UNACKED, "%.1f s",
                            (double)a->oldest_unacked_ms / 1000.0);
        } else {
            cdof_table_set(t, AGT_AGENT_ID, a->agent_id);
            cdof_table_set_u64(t, AGT_HIGH_WATER, a->high_water);
            if (a->last_heard_ms)
                cdof_table_set_i64(t, AGT_LAST_HEARD_MS, a->last_heard_ms);
            cdof_table_set_time(t, AGT_LAST_HEARD, a->last_heard_ms);
            cdof_table_set_u64(t, AGT_OUTBOX_DEPTH, a->outbox_depth);
            cdof_table_set_u64(t, AGT_OLDEST_UNACKED_MS, a->oldest_unacked_ms);
        }
    }
    return cdof_table_finish(t);
}

/* Silence records: the table shows who (and through which key) made and ended each. */
enum {
    SIL_ID,
    SIL_MATCHER,
    SIL_UNTIL_MS,
    SIL_UNTIL,
    SIL_BY,
    SIL_KEY_ID,
    SIL_CREATED_MS,
    SIL_SCOPE_TEAM,
    SIL_SCOPE_REGION,
    SIL_ENDED_MS,
    SIL_ENDED_BY,
    SIL_ENDED_KEY_ID,
    SIL_REASON,
    SIL_NCOLS
};
static const cdof_table_col_t silence_record_cols[] = {[SIL_ID] = NUM("id"),
                                                       [SIL_MATCHER] = TEXT("matcher"),
                                                       [SIL_UNTIL_MS] = NUM("until_ms"),
                                                       [SIL_UNTIL] = TEXT("until"),
                                                       [SIL_BY] = TEXT("by"),
                                                       [SIL_KEY_ID] = TEXT("key_id"),
                                                       [SIL_CREATED_MS] = NUM("created_ms"),
                                                       [SIL_SCOPE_TEAM] = TEXT("scope_team"),
                                                       [SIL_SCOPE_REGION] = TEXT("scope_region"),
                                                       [SIL_ENDED_MS] = NUM("ended_ms"),
                                                       [SIL_ENDED_BY] = TEXT("ended_by"),
                                                       [SIL_ENDED_KEY_ID] = TEXT("ended_key_id"),
                                                       [SIL_REASON] = TEXT("reason")};
CDOF_TABLE_COLS_CHECK(silence_record_cols, SIL_NCOLS);

/* "by" is by and key_id ("Pat via nw"); "ended" is ended_ms, ended_by and ended_key_id. */
enum {
    SIL_SHOWN_ID,
    SIL_SHOWN_MATCHER,
    SIL_SHOWN_UNTIL,
    SIL_SHOWN_BY,
    SIL_SHOWN_ENDED,
    SIL_SHOWN_REASON,
    SIL_SHOWN_NCOLS
};
static const cdof_table_col_t silence_shown_cols[] = {
    [SIL_SHOWN_ID] = NUM("id"),        [SIL_SHOWN_MATCHER] = TEXT("matcher"),
    [SIL_SHOWN_UNTIL] = TEXT("until"), [SIL_SHOWN_BY] = TEXT("by"),
    [SIL_SHOWN_ENDED] = TEXT("ended"), [SIL_SHOWN_REASON] = CUT("reason")};
CDOF_TABLE_COLS_CHECK(silence_shown_cols, SIL_SHOWN_NCOLS);

cdof_table_t *cdof_qo_silences(Cdof__V1__Silence *const *silences, size_t n, bool display)
{
    cdof_table_t *t = QO_TABLE(display, silence_shown_cols, silence_record_cols);
    for (size_t i = 0; t && i < n && cdof_table_add_row(t) == 0; i++) {
        const Cdof__V1__Silence *s = silences[i];
        char until[32] = "";
        cdof_clock_format(s->until_ms, until, sizeof until);
        if (display) {
            char when[32] = "";
            if (s->ended_ms)
                cdof_clock_format(s->ended_ms, when, sizeof when);
            cdof_table_set_i64(t, SIL_SHOWN_ID, (int64_t)s->id);
            cdof_table_set(t, SIL_SHOWN_MATCHER, s->matcher);
            cdof_table_set(t, SIL_SHOWN_UNTIL, until);
            cdof_table_setf(t, SIL_SHOWN_BY, "%s%s%s", s->by, *s->key_id ? " via " : "", s->key_id);
            if (s->ended_ms)
                cdof_table_setf(t, SIL_SHOWN_ENDED, "%s by %s%s%s", when, s->ended_by,
                                *s->ended_key_id ? " via " : "", s->ended_key_id);
            else
                cdof_table_set(t, SIL_SHOWN_ENDED, "");
            cdof_table_set(t, SIL_SHOWN_REASON, s->reason);
        } else {
            cdof_table_set_i64(t, SIL_ID, (int64_t)s->id);
            cdof_table_set(t, SIL_MATCHER, s->matcher);
            cdof_table_set_i64(t, SIL_UNTIL_MS, s->until_ms);
            cdof_table_set(t, SIL_UNTIL, until);
            cdof_table_set(t, SIL_BY, s->by);
            cdof_table_set(t, SIL_KEY_ID, s->key_id);
            cdof_table_set_i64(t, SIL_CREATED_MS, s->created_ms);
            cdof_table_set(t, SIL_SCOPE_TEAM, s->scope_team);
            cdof_table_set(t, SIL_SCOPE_REGION, s->scope_region);
            cdof_table_set_i64(t, SIL_ENDED_MS, s->ended_ms);
            cdof_table_set(t, SIL_ENDED_BY, s->ended_by);
            cdof_table_set(t, SIL_ENDED_KEY_ID, s->ended_key_id);
            cdof_table_set(t, SIL_REASON, s->reason);
        }
    }
    return cdof_table_finish(t);
}

/* --- national summary --- */

enum {
    NAT_METRIC_ID,
    NAT_METRIC_NAME,
    NAT_HEADLINE,
    NAT_KIND,
    NAT_BASELINE_PERIOD,
    NAT_BASELINE,
    NAT_LATEST_PERIOD,
    NAT_LATEST,
    NAT_CHANGE,
    NAT_COMMITMENT,
    NAT_TARGET,
    NAT_PROGRESS,
    NAT_SOURCE,
    NAT_LATEST_REPORTED,
    NAT_LATEST_EXPECTED,
    NAT_LATEST_PROVISIONAL,
    NAT_NCOLS
};
static const cdof_table_col_t national_record_cols[] = {
    [NAT_METRIC_ID] = TEXT("metric_id"),
    [NAT_METRIC_NAME] = TEXT("metric_name"),
    [NAT_HEADLINE] = BOOL("headline"),
    [NAT_KIND] = TEXT("kind"),
    [NAT_BASELINE_PERIOD] = TEXT("baseline_period"),
    [NAT_BASELINE] = NUM("baseline"),
    [NAT_LATEST_PERIOD] = TEXT("latest_period"),
    [NAT_LATEST] = NUM("latest"),
    [NAT_CHANGE] = NUM("change"),
    [NAT_COMMITMENT] = TEXT("commitment"),
    [NAT_TARGET] = NUM("target"),
    [NAT_PROGRESS] = NUM("progress"),
    [NAT_SOURCE] = TEXT("source"),
    [NAT_LATEST_REPORTED] = NUM("latest_reported"),
    [NAT_LATEST_EXPECTED] = NUM("latest_expected"),
    [NAT_LATEST_PROVISIONAL] = TEXT("latest_provisional")};
CDOF_TABLE_COLS_CHECK(national_record_cols, NAT_NCOLS);

/* Each period's heading stands over its period and, unnamed, its value; latest_period carries
 * latest_provisional as '*'; "cover" is latest_reported/latest_expected. */
enum {
    NAT_SHOWN_METRIC_ID,
    NAT_SHOWN_BASELINE_PERIOD,
    NAT_SHOWN_BASELINE,
    NAT_SHOWN_LATEST_PERIOD,
    NAT_SHOWN_LATEST,
    NAT_SHOWN_CHANGE,
    NAT_SHOWN_TARGET,
    NAT_SHOWN_PROGRESS,
    NAT_SHOWN_COVER,
    NAT_SHOWN_NCOLS
};
static const cdof_table_col_t national_shown_cols[] = {
    [NAT_SHOWN_METRIC_ID] = CUT("metric"), [NAT_SHOWN_BASELINE_PERIOD] = TEXT("baseline"),
    [NAT_SHOWN_BASELINE] = NUM(""),        [NAT_SHOWN_LATEST_PERIOD] = TEXT("latest"),
    [NAT_SHOWN_LATEST] = NUM(""),          [NAT_SHOWN_CHANGE] = NUM("change"),
    [NAT_SHOWN_TARGET] = NUM("target"),    [NAT_SHOWN_PROGRESS] = NUM("progress"),
    [NAT_SHOWN_COVER] = NUM("cover")};
CDOF_TABLE_COLS_CHECK(national_shown_cols, NAT_SHOWN_NCOLS);

cdof_table_t *cdof_qo_national(Cdof__V1__NationalRow *const *rows, size_t n, bool display)
{
    cdof_table_t *t = QO_TABLE(display, national_shown_cols, national_record_cols);
    for (size_t i = 0; t && i < n && cdof_table_add_row(t) == 0; i++) {
        const Cdof__V1__NationalRow *r = rows[i];
        double change = r->has_baseline && r->has_latest && strcmp(r->kind, "cumulative") != 0
                            ? r->latest - r->baseline
                            : NAN;
        /* Whole numbers (counts, most targets) without decimals keep the table in 80 columns. */
        bool whole = (!r->has_latest || r->latest == floor(r->latest)) &&
                     (!r->has_baseline || r->baseline == floor(r->baseline));
        int dec = display ? (whole ? 0 : 1) : -1;
        if (display) {
            cdof_table_set(t, NAT_SHOWN_METRIC_ID, r->metric_id);
            cdof_table_set_opt(t, NAT_SHOWN_BASELINE_PERIOD, r->baseline_period);
            if (r->has_baseline)
                cdof_table_set_number(t, NAT_SHOWN_BASELINE, r->baseline, dec);
            /* A headline from an incomplete period (there is no complete one yet) ends in '*'. */
            char latest[CDOF_PERIOD_TEXT_MAX + 2];
            snprintf(latest, sizeof latest, "%s%s", r->latest_period ? r->latest_period : "",
                     r->latest_provisional ? "*" : "");
            cdof_table_set_opt(t, NAT_SHOWN_LATEST_PERIOD, latest);
            if (r->latest_expected)
                cdof_table_setf(t, NAT_SHOWN_COVER, "%u/%u", r->latest_reported,
                                r->latest_expected);
            if (r->has_latest)
                cdof_table_set_number(t, NAT_SHOWN_LATEST, r->latest, dec);
            cdof_table_set_number(t, NAT_SHOWN_CHANGE, change, dec);
            if (r->has_target)
                cdof_table_set_number(t, NAT_SHOWN_TARGET, r->target,
                                      r->target == floor(r->target) ? 0 : 1);
            if (r->has_progress)
                cdof_table_setf(t, NAT_SHOWN_PROGRESS, "%.0f%%", r->progress);
        } else {
            cdof_table_set(t, NAT_METRIC_ID, r->metric_id);
            cdof_table_set(t, NAT_METRIC_NAME, r->metric_name);
            cdof_table_set_bool(t, NAT_HEADLINE, r->headline);
            cdof_table_set_opt(t, NAT_KIND, r->kind);
            cdof_table_set_opt(t, NAT_BASELINE_PERIOD, r->baseline_period);
            if (r->has_baseline)
                cdof_table_set_number(t, NAT_BASELINE, r->baseline, dec);
            cdof_table_set_opt(t, NAT_LATEST_PERIOD, r->latest_period);
            if (r->has_latest)
                cdof_table_set_number(t, NAT_LATEST, r->latest, dec);
            cdof_table_set_number(t, NAT_CHANGE, change, dec);
            cdof_table_set_opt(t, NAT_COMMITMENT, r->commitment);
            if (r->has_target)
                cdof_table_set_number(t, NAT_TARGET, r->target, dec);
            if (r->has_progress)
                cdof_table_set_number(t, NAT_PROGRESS, r->progress, dec);
            cdof_table_set_opt(t, NAT_SOURCE, r->source);
            if (r->latest_expected) {
                cdof_table_set_u64(t, NAT_LATEST_REPORTED, r->latest_reported);
                cdof_table_set_u64(t, NAT_LATEST_EXPECTED, r->latest_expected);
            }
            cdof_table_set_bool(t, NAT_LATEST_PROVISIONAL, r->latest_provisional);
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

enum {
    PER_METRIC_ID,
    PER_PERIOD,
    PER_STATE,
    PER_COMPLETED_BY,
    PER_EVENT,
    PER_AREA_CODE,
    PER_AREA_NAME,
    PER_REPORTED,
    PER_EXPECTED,
    PER_MISSING,
    PER_THRESHOLD_PERCENT,
    PER_DEADLINE,
    PER_CLOSED_BY,
    PER_REASON,
    PER_REVISIONS,
    PER_CHANGED_MS,
    PER_NCOLS
};
static const cdof_table_col_t period_record_cols[] = {[PER_METRIC_ID] = TEXT("metric_id"),
                                                      [PER_PERIOD] = TEXT("period"),
                                                      [PER_STATE] = TEXT("state"),
                                                      [PER_COMPLETED_BY] = TEXT("completed_by"),
                                                      [PER_EVENT] = TEXT("event"),
                                                      [PER_AREA_CODE] = TEXT("area_code"),
                                                      [PER_AREA_NAME] = TEXT("area_name"),
                                                      [PER_REPORTED] = NUM("reported"),
                                                      [PER_EXPECTED] = NUM("expected"),
                                                      [PER_MISSING] = TEXT("missing"),
                                                      [PER_THRESHOLD_PERCENT] =
                                                          NUM("threshold_percent"),
                                                      [PER_DEADLINE] = TEXT("deadline"),
                                                      [PER_CLOSED_BY] = TEXT("closed_by"),
                                                      [PER_REASON] = TEXT("reason"),
                                                      [PER_REVISIONS] = NUM("revisions"),
                                                      [PER_CHANGED_MS] = NUM("changed_ms")};
CDOF_TABLE_COLS_CHECK(period_record_cols, PER_NCOLS);

/* "state" says how the period got there: the event (else the state) with completed_by, or who
 * closed it and why; "coverage of" is area_name; "reported" is reported/expected. */
enum {
    PER_SHOWN_PERIOD,
    PER_SHOWN_STATE,
    PER_SHOWN_AREA_NAME,
    PER_SHOWN_REPORTED,
    PER_SHOWN_MISSING,
    PER_SHOWN_NCOLS
};
static const cdof_table_col_t period_shown_cols[] = {[PER_SHOWN_PERIOD] = TEXT("period"),
                                                     [PER_SHOWN_STATE] = CUT("state"),
                                                     [PER_SHOWN_AREA_NAME] = CUT("coverage of"),
                                                     [PER_SHOWN_REPORTED] = NUM("reported"),
                                                     [PER_SHOWN_MISSING] = CUT("missing")};
CDOF_TABLE_COLS_CHECK(period_shown_cols, PER_SHOWN_NCOLS);

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
        cdof_table_set(t, PER_SHOWN_PERIOD, period);
        cdof_table_set(t, PER_SHOWN_STATE, how);
        cdof_table_set(t, PER_SHOWN_AREA_NAME, name);
        cdof_table_setf(t, PER_SHOWN_REPORTED, "%u/%u", rep, exp);
        cdof_table_set_opt(t, PER_SHOWN_MISSING, missing);
        return;
    }
    cdof_table_set(t, PER_METRIC_ID, st->metric_id);
    cdof_table_set_opt(t, PER_PERIOD, period);
    cdof_table_set(t, PER_STATE, state);
    cdof_table_set_opt(t, PER_COMPLETED_BY, st->completed_by);
    cdof_table_set_opt(t, PER_EVENT, st->event);
    cdof_table_set(t, PER_AREA_CODE, code);
    cdof_table_set_opt(t, PER_AREA_NAME, name);
    cdof_table_set_u64(t, PER_REPORTED, rep);
    cdof_table_set_u64(t, PER_EXPECTED, exp);
    cdof_table_set_opt(t, PER_MISSING, missing);
    cdof_table_set_number(t, PER_THRESHOLD_PERCENT, st->threshold * 100, -1);
    set_day(t, PER_DEADLINE, st->deadline_day);
    cdof_table_set_opt(t, PER_CLOSED_BY, st->closed_by);
    cdof_table_set_opt(t, PER_REASON, st->reason);
    cdof_table_set_u64(t, PER_REVISIONS, st->revisions);
    cdof_table_set_i64(t, PER_CHANGED_MS, st->changed_ms);
}

cdof_table_t *cdof_qo_periods(Cdof__V1__PeriodStatus *const *periods, size_t n, bool display)
{
    cdof_table_t *t = QO_TABLE(display, period_shown_cols, period_record_cols);
    for (size_t i = 0; t && i < n && !cdof_table_status(t); i++) {
        const Cdof__V1__PeriodStatus *st = periods[i];
        if (st->n_groups == 0)
            period_row(t, st, NULL, display);
        for (size_t g = 0; g < st->n_groups; g++)
            period_row(t, st, st->groups[g], display);
    }
    return cdof_table_finish(t);
}

enum {
    MS_PARTNERSHIP,
    MS_PARTNERSHIP_NAME,
    MS_MILESTONE_ID,
    MS_DELIVERABLE,
    MS_STATUS,
    MS_DUE,
    MS_DONE_ON,
    MS_OVERDUE_SINCE,
    MS_NEXT_DUE,
    MS_REF,
    MS_NCOLS
};
static const cdof_table_col_t milestone_record_cols[] = {[MS_PARTNERSHIP] = TEXT("partnership"),
                                                         [MS_PARTNERSHIP_NAME] =
                                                             TEXT("partnership_name"),
                                                         [MS_MILESTONE_ID] = TEXT("milestone_id"),
                                                         [MS_DELIVERABLE] = TEXT("deliverable"),
                                                         [MS_STATUS] = TEXT("status"),
                                                         [MS_DUE] = TEXT("due"),
                                                         [MS_DONE_ON] = TEXT("done_on"),
                                                         [MS_OVERDUE_SINCE] = TEXT("overdue_since"),
                                                         [MS_NEXT_DUE] = TEXT("next_due"),
                                                         [MS_REF] = TEXT("ref")};
CDOF_TABLE_COLS_CHECK(milestone_record_cols, MS_NCOLS);

/* "partnership" is partnership_name where one is known, else partnership. */
enum {
    MS_SHOWN_PARTNERSHIP,
    MS_SHOWN_MILESTONE_ID,
    MS_SHOWN_STATUS,
    MS_SHOWN_DUE,
    MS_SHOWN_DONE_ON,
    MS_SHOWN_OVERDUE_SINCE,
    MS_SHOWN_NCOLS
};
static const cdof_table_col_t milestone_shown_cols[] = {
    [MS_SHOWN_PARTNERSHIP] = CUT("partnership"), [MS_SHOWN_MILESTONE_ID] = CUT("milestone"),
    [MS_SHOWN_STATUS] = TEXT("status"),          [MS_SHOWN_DUE] = TEXT("due"),
    [MS_SHOWN_DONE_ON] = TEXT("done"),           [MS_SHOWN_OVERDUE_SINCE] = TEXT("overdue since")};
CDOF_TABLE_COLS_CHECK(milestone_shown_cols, MS_SHOWN_NCOLS);

cdof_table_t *cdof_qo_milestones(Cdof__V1__MilestoneRow *const *rows, size_t n,
                                 const char *const *names, bool display)
{
    cdof_table_t *t = QO_TABLE(display, milestone_shown_cols, milestone_record_cols);
    for (size_t i = 0; t && i < n && cdof_table_add_row(t) == 0; i++) {
        const Cdof__V1__MilestoneRow *r = rows[i];
        /* The table shows the name people know; records keep the id and add the name. */
        const char *name = names && names[i] ? names[i] : r->partnership;
        if (display) {
            cdof_table_set(t, MS_SHOWN_PARTNERSHIP, name);
            cdof_table_set(t, MS_SHOWN_MILESTONE_ID, r->milestone_id);
            cdof_table_set(t, MS_SHOWN_STATUS, r->status);
            set_day(t, MS_SHOWN_DUE, r->due_day);
            set_day(t, MS_SHOWN_DONE_ON, r->done_day);
            set_day(t, MS_SHOWN_OVERDUE_SINCE, r->overdue_since);
        } else {
            cdof_table_set(t, MS_PARTNERSHIP, r->partnership);
            cdof_table_set_opt(t, MS_PARTNERSHIP_NAME, names ? name : NULL);
            cdof_table_set(t, MS_MILESTONE_ID, r->milestone_id);
            cdof_table_set(t, MS_DELIVERABLE, r->deliverable);
            cdof_table_set(t, MS_STATUS, r->status);
            set_day(t, MS_DUE, r->due_day);
            set_day(t, MS_DONE_ON, r->done_day);
            set_day(t, MS_OVERDUE_SINCE, r->overdue_since);
            set_day(t, MS_NEXT_DUE, r->next_due);
            cdof_table_set_opt(t, MS_REF, r->ref);
        }
    }
    return cdof_table_finish(t);
}

enum {
    REJ_AGENT_ID,
    REJ_PARTNERSHIP,
    REJ_SEQUENCE,
    REJ_REJECTED_MS,
    REJ_REJECTED,
    REJ_REASON,
    REJ_NCOLS
};
static const cdof_table_col_t rejection_record_cols[] = {
    [REJ_AGENT_ID] = TEXT("agent_id"), [REJ_PARTNERSHIP] = TEXT("partnership"),
    [REJ_SEQUENCE] = NUM("sequence"),  [REJ_REJECTED_MS] = NUM("rejected_ms"),
    [REJ_REJECTED] = TEXT("rejected"), [REJ_REASON] = TEXT("reason")};
CDOF_TABLE_COLS_CHECK(rejection_record_cols, REJ_NCOLS);

enum {
    REJ_SHOWN_AGENT_ID,
    REJ_SHOWN_PARTNERSHIP,
    REJ_SHOWN_SEQUENCE,
    REJ_SHOWN_REJECTED,
    REJ_SHOWN_REASON,
    REJ_SHOWN_NCOLS
};
static const cdof_table_col_t rejection_shown_cols[] = {[REJ_SHOWN_AGENT_ID] = CUT("agent"),
                                                        [REJ_SHOWN_PARTNERSHIP] =
                                                            CUT("partnership"),
                                                        [REJ_SHOWN_SEQUENCE] = NUM("sequence"),
                                                        [REJ_SHOWN_REJECTED] = TEXT("refused"),
                                                        [REJ_SHOWN_REASON] = CUT("reason")};
CDOF_TABLE_COLS_CHECK(rejection_shown_cols, REJ_SHOWN_NCOLS);

cdof_table_t *cdof_qo_rejections(Cdof__V1__Rejection *const *rows, size_t n, bool display)
{
    cdof_table_t *t = QO_TABLE(display, rejection_shown_cols, rejection_record_cols);
    for (size_t i = 0; t && i < n && cdof_table_add_row(t) == 0; i++) {
        const Cdof__V1__Rejection *r = rows[i];
        if (display) {
            cdof_table_set(t, REJ_SHOWN_AGENT_ID, r->agent_id);
            cdof_table_set_opt(t, REJ_SHOWN_PARTNERSHIP, r->partnership);
            cdof_table_set_u64(t, REJ_SHOWN_SEQUENCE, r->sequence);
            cdof_table_set_time(t, REJ_SHOWN_REJECTED, r->rejected_ms);
            cdof_table_set(t, REJ_SHOWN_REASON, r->reason);
        } else {
            cdof_table_set(t, REJ_AGENT_ID, r->agent_id);
            cdof_table_set_opt(t, REJ_PARTNERSHIP, r->partnership);
            cdof_table_set_u64(t, REJ_SEQUENCE, r->sequence);
            if (r->rejected_ms)
                cdof_table_set_i64(t, REJ_REJECTED_MS, r->rejected_ms);
            cdof_table_set_time(t, REJ_REJECTED, r->rejected_ms);
            cdof_table_set(t, REJ_REASON, r->reason);
        }
    }
    return cdof_table_finish(t);
}
