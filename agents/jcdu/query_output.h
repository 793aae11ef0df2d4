/* The tables of cdof-query, built from the hub's wire rows (common/cdof_table writes them as an
 * aligned table, CSV or JSON). "qo" stands for query output.
 *
 * Two shapes of table are built from the same wire rows: a "record" table (snake_case columns,
 * numbers at full precision, every field: CSV and JSON) and a "display" table (short headings,
 * values to one decimal, intervals as "8.1–12.6": the aligned text table). Pure: no I/O, no
 * ZeroMQ; asking the hub is agents/client's, and so are the alerts' table and line. */
#ifndef CDOF_QUERY_OUTPUT_H
#define CDOF_QUERY_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "cdof.pb-c.h"
#include "cdof_table.h"

/* Tables built from wire rows; the caller owns the result (NULL when out of memory, or when a
 * column list has a gap, which CDOF_TABLE_COLS_CHECK and test_query_output rule out). The rows
 * are borrowed for the call only. */
typedef enum { CDOF_QO_VIEW_AREA, CDOF_QO_VIEW_LEAGUE, CDOF_QO_VIEW_SERIES } cdof_qo_view_t;

/* Record columns (CSV, JSON): area_code, area_name, metric_id, period, numerator, denominator,
 * value, lower_95, upper_95, lower_99_8, upper_99_8, vs_england, vs_region, quintile,
 * england_value, region_value, received_ms, trend, worse_and_getting_worse, partnership,
 * vs_baseline, vs_trajectory, reported, expected, provisional, england_provisional,
 * region_provisional. Display columns depend on the view. */
cdof_table_t *cdof_qo_comparisons(Cdof__V1__ComparisonRow *const *rows, size_t n,
                                  cdof_qo_view_t view, bool display);
/* Silences. Record columns: id, matcher, until_ms, until, by, key_id, created_ms, scope_team,
 * scope_region, ended_ms, ended_by, ended_key_id, reason. */
cdof_table_t *cdof_qo_silences(Cdof__V1__Silence *const *silences, size_t n, bool display);
/* Record columns: agent_id, high_water, last_heard_ms, last_heard, outbox_depth,
 * oldest_unacked_ms. */
cdof_table_t *cdof_qo_agents(Cdof__V1__AgentStatus *const *agents, size_t n, bool display);

/* The national summary. Record columns: metric_id, metric_name, headline, kind, baseline_period,
 * baseline, latest_period, latest, change, commitment, target, progress, source,
 * latest_reported, latest_expected, latest_provisional. */
cdof_table_t *cdof_qo_national(Cdof__V1__NationalRow *const *rows, size_t n, bool display);

/* `coverage` and `close`: a period's state with England's coverage, or one row per geography
 * (England, regions, partnerships) with its missing areas; history records name their event.
 * NULL when out of memory; owned by the caller. */
cdof_table_t *cdof_qo_periods(Cdof__V1__PeriodStatus *const *periods, size_t n, bool display);
/* `rejections`: one row per envelope the hub refused. Record columns: agent_id, partnership,
 * sequence, rejected_ms, rejected (ISO time, empty when not kept), reason. NULL when out of
 * memory; owned by the caller. */
cdof_table_t *cdof_qo_rejections(Cdof__V1__Rejection *const *rows, size_t n, bool display);
/* Milestone compliance. Record columns: partnership, partnership_name, milestone_id, deliverable,
 * status, due, done_on, overdue_since, next_due, ref (dates YYYY-MM-DD, empty when none). names
 * (parallel to rows, borrowed; NULL: none known) are display names: the table shows them instead of
 * the ids. */
cdof_table_t *cdof_qo_milestones(Cdof__V1__MilestoneRow *const *rows, size_t n,
                                 const char *const *names, bool display);

#endif
