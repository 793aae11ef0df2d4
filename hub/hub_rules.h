/* Alert rules from the hub's rules file (cdof-hub --rules FILE; deploy/rules.example.ini shows
 * every key). Parsing and the pure helpers the rules need (silence matching, milestone due
 * dates); no store, no ZeroMQ. docs/DESIGN.md "Alerts".
 *
 * The file is INI: one [section] per rule, named by the rule (its dedupe keys start with the
 * name), "key = value" lines, "#" and ";" comments. Partnerships are not defined here but by
 * the hub's --partnerships file (a "[partnership NAME]" section is refused, saying so). */
#ifndef HUB_RULES_H
#define HUB_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cdof_ref.h"

typedef enum {
    HUB_RULE_WORSE_THAN_ENGLAND, /* the area's interval excludes England's value, on the bad side */
    HUB_RULE_WORSE_THAN_REGION,  /* likewise against its region */
    HUB_RULE_WORSE_AND_WORSENING, /* worse than England and a significant trend getting worse */
    HUB_RULE_WORSENING_TREND,     /* a significant recent trend getting worse */
    HUB_RULE_DATA_OVERDUE,        /* the period after the latest not received N days after due */
    HUB_RULE_AGENT_SILENT,        /* no message from an agent for T */
    HUB_RULE_MILESTONE_OVERDUE,   /* a partnership deliverable not done by its deadline */
    HUB_RULE_DATA_QUALITY         /* a value far from the area's own history (robust z) */
} hub_rule_kind_t;

#define HUB_RULE_NAME_MAX 32

typedef struct {
    char name[HUB_RULE_NAME_MAX]; /* the section name */
    hub_rule_kind_t kind;
    const bool *metric_on;    /* indexed by catalogue index; owned by the rule set */
    const bool *milestone_on; /* indexed by milestone index; owned by the rule set */
    const bool *area_on;  /* by area index: milestone rules' partnerships holding one; NULL: all */
    double confidence;    /* 0.95 or 0.998 */
    unsigned consecutive; /* periods in a row the condition must hold; 1 or more */
    int severity;         /* cdof.v1.Severity; 0: warning, critical when "worst" */
    char team[16];        /* routing team for rules without a metric; default jcdu */
    long days;            /* data_overdue: days after the expected period's end */
    long silent_s;        /* agent_silent: seconds without a message */
    double z;             /* data_quality: robust z-score threshold */
    long history;         /* data_quality: periods of history needed (at least) */
} hub_rule_t;

typedef struct hub_rules hub_rules_t;

/* Parses the rules file at path against the reference data. default_confidence applies to rules
 * that give no "level". Returns 0 and *out (owned by the caller: hub_rules_destroy), or a
 * negative code with "FILE:LINE: field 'KEY': reason" in err. */
int hub_rules_load(const char *path, const cdof_ref_t *ref, double default_confidence,
                   hub_rules_t **out, char *err, size_t errlen);

/* The same from an open stream (not closed here); path names it in errors. */
int hub_rules_parse(FILE *f, const char *path, const cdof_ref_t *ref, double default_confidence,
                    hub_rules_t **out, char *err, size_t errlen);

/* The rules used without a file: worse_than_england and worse_than_region on headline metrics at
 * default_confidence. Returns NULL when out of memory. */
hub_rules_t *hub_rules_default(const cdof_ref_t *ref, double default_confidence);

void hub_rules_destroy(hub_rules_t **rules);

size_t hub_rules_count(const hub_rules_t *rules);
const hub_rule_t *hub_rules_at(const hub_rules_t *rules, size_t i);

/* The kind's name as written in the file ("worse_than_england", ...). */
const char *hub_rules_kind_name(hub_rule_kind_t kind);

/* Whether kind judges an area's performance (worse than England or region, worsening): such
 * alerts are muted while data is overdue for the area. */
bool hub_rules_underperformance(hub_rule_kind_t kind);

/* The rule whose name is the first part of dedupe key key ("rule|subject|area"), or NULL. */
const hub_rule_t *hub_rules_for_key(const hub_rules_t *rules, const char *key);

/* Silence matchers: "rule|subject|area" where any part may be "*"; true when key matches. */
bool hub_rules_key_matches(const char *matcher, const char *key);
/* Checks a matcher's shape (three parts). Returns 0 or -EINVAL with a reason in err. */
int hub_rules_matcher_check(const char *matcher, char *err, size_t errlen);

/* days (days since the epoch) plus n calendar months, the day clamped to the month's length. */
int32_t hub_rules_add_months(int32_t days, int n);

/* The milestone occurrence a partnership is late for on day today: the latest deadline d < today
 * (one-off: the deadline; recurring: deadline + k * recurrence months). Returns false when no
 * deadline has passed yet; else *due is it and *cycle_start the occurrence before it (INT32_MIN
 * for the first): a completion dated after *cycle_start satisfies it. */
bool hub_rules_milestone_due(const cdof_milestone_t *m, int32_t today, int32_t *due,
                             int32_t *cycle_start);

#endif
