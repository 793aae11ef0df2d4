/* Alerts as every client shows them: the alert line (one line of text a person reads), the
 * alert record (every field, as a table row or one JSON object on a line) and the short table
 * cdof-query prints. cdof-query and cdof-watch print the same bytes for the same alert through
 * these. Pure formatting: the only I/O is writing to the FILE the caller passes. */
#ifndef CDOF_CLIENT_ALERT_H
#define CDOF_CLIENT_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cdof.pb-c.h"
#include "cdof_table.h"

/* Text names used in CSV and JSON: firing, resolved, acknowledged, unspecified; info, warning,
 * critical, unspecified. Static strings. */
const char *cdof_client_state_name(Cdof__V1__AlertState s);
const char *cdof_client_severity_name(Cdof__V1__Severity s);

/* Writes a wire period's text form ("2024-03") into buf (at least CDOF_PERIOD_TEXT_MAX bytes);
 * returns false (and "") when the period is absent or malformed. */
bool cdof_client_period_text(const Cdof__V1__Period *p, char *buf, size_t len);

/* A table of alerts (borrowed for the call). display false: the record columns, sequence,
 * raised_ms, raised, state, severity, rule, team, region_code, area_code, metric_id, period,
 * value, lower, upper, confidence, benchmark, verdict, dedupe_key, acknowledged_by, summary,
 * subject, fired_sequence, muted_by, reported, expected; display true: #, state, severity, rule,
 * area, metric, period, summary. NULL when out of memory; owned by the caller. */
cdof_table_t *cdof_client_alerts_table(Cdof__V1__Alert *const *alerts, size_t n, bool display);

/* One alert as one JSON object of the record columns, on one line, no line end. Returns 0,
 * -ENOMEM or -EIO. */
int cdof_client_alert_json(const Cdof__V1__Alert *a, FILE *out);

/* The alert line: one alert as one line of text, no line end, e.g.
 *   #12 FIRING critical worse_than_england ohid E12000002 E06000009 Blackpool continuity_of_care
 *   2024-03: 10.2% (95% 8.1–12.6) vs England 41.3% — summary
 * area_name may be NULL; percent appends "%" to the figures. Control characters in strings are
 * written as spaces so that the line stays one line. */
void cdof_client_alert_line(const Cdof__V1__Alert *a, const char *area_name, bool percent,
                            FILE *out);

#endif
