#include "hub_rules.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_config.h"
#include "cdof_error.h"
#include "cdof_period.h"

#define MAX_RULES 64

typedef struct {
    hub_rule_t pub;
    bool *metric_on, *milestone_on, *area_on;
} rule_slot_t;

struct hub_rules {
    const cdof_ref_t *ref;
    rule_slot_t rules[MAX_RULES];
    size_t nrules;
};

static const char *const KIND_NAMES[] = {
    "worse_than_england", "worse_than_region", "worse_and_worsening", "worsening_trend",
    "data_overdue",       "agent_silent",      "milestone_overdue",   "data_quality"};

const char *hub_rules_kind_name(hub_rule_kind_t kind)
{
    return (size_t)kind < sizeof KIND_NAMES / sizeof KIND_NAMES[0] ? KIND_NAMES[kind] : "?";
}

static int kind_parse(const char *s, hub_rule_kind_t *out)
{
    for (size_t i = 0; i < sizeof KIND_NAMES / sizeof KIND_NAMES[0]; i++) {
        if (!strcmp(s, KIND_NAMES[i])) {
            *out = (hub_rule_kind_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

static void rules_free_slots(hub_rules_t *r)
{
    for (size_t i = 0; i < r->nrules; i++) {
        free(r->rules[i].metric_on);
        free(r->rules[i].milestone_on);
        free(r->rules[i].area_on);
    }
}

void hub_rules_destroy(hub_rules_t **rules)
{
    if (!rules || !*rules)
        return;
    rules_free_slots(*rules);
    free(*rules);
    *rules = NULL;
}

size_t hub_rules_count(const hub_rules_t *rules)
{
    return rules->nrules;
}

const hub_rule_t *hub_rules_at(const hub_rules_t *rules, size_t i)
{
    return i < rules->nrules ? &rules->rules[i].pub : NULL;
}

/* A new rule of kind with every default set; NULL when out of memory or full. */
static rule_slot_t *rule_add(hub_rules_t *r, const char *name, hub_rule_kind_t kind,
                             double confidence)
{
    if (r->nrules == MAX_RULES)
        return NULL;
    rule_slot_t *s = &r->rules[r->nrules];
    memset(s, 0, sizeof *s);
    size_t nm = cdof_ref_metric_count(r->ref), nms = cdof_ref_milestone_count(r->ref);
    s->metric_on = calloc(nm ? nm : 1, sizeof *s->metric_on);
    s->milestone_on = calloc(nms ? nms : 1, sizeof *s->milestone_on);
    if (!s->metric_on || !s->milestone_on) {
        free(s->metric_on);
        free(s->milestone_on);
        return NULL;
    }
    for (size_t i = 0; i < nm; i++)
        s->metric_on[i] = cdof_ref_metric_at(r->ref, i)->headline; /* headline by default */
    for (size_t i = 0; i < nms; i++)
        s->milestone_on[i] = true;
    hub_rule_t *p = &s->pub;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = kind;
    p->confidence = confidence;
    p->consecutive = 1;
    snprintf(p->team, sizeof p->team, "jcdu");
    p->days = 30;
    p->silent_s = 300;
    p->z = 3.5;
    p->history = 6;
    r->nrules++;
    return s;
}

static void rule_link(rule_slot_t *s)
{
    s->pub.metric_on = s->metric_on;
    s->pub.milestone_on = s->milestone_on;
    s->pub.area_on = s->area_on;
}

static hub_rules_t *rules_new(const cdof_ref_t *ref)
{
    hub_rules_t *r = calloc(1, sizeof *r);
    if (r)
        r->ref = ref;
    return r;
}

hub_rules_t *hub_rules_default(const cdof_ref_t *ref, double default_confidence)
{
    hub_rules_t *r = rules_new(ref);
    if (!r)
        return NULL;
    rule_slot_t *a =
        rule_add(r, "worse_than_england", HUB_RULE_WORSE_THAN_ENGLAND, default_confidence);
    rule_slot_t *b =
        a ? rule_add(r, "worse_than_region", HUB_RULE_WORSE_THAN_REGION, default_confidence) : NULL;
    if (!b) {
        hub_rules_destroy(&r);
        return NULL;
    }
    rule_link(a);
    rule_link(b);
    return r;
}

/* --- the parser --- */

typedef struct {
    const char *path;
    unsigned line;
    char *err;
    size_t errlen;
} where_t;

static int fail(const where_t *w, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const where_t *w, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cdof_vreason_at(CDOF_EINVALID, w->err, w->errlen, w->path, w->line, key, fmt, ap);
    va_end(ap);
    return CDOF_EINVALID;
}

static int parse_long(const where_t *w, const char *key, const char *v, long min, long max,
                      long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max)
        return fail(w, key, "'%s' is not a whole number from %ld to %ld", v, min, max);
    *out = n;
    return 0;
}

/* "all", "headline" (metrics only) or a comma-separated list of ids checked by lookup. */
typedef int (*lookup_fn)(const cdof_ref_t *ref, const char *id);

static int metric_index(const cdof_ref_t *ref, const char *id)
{
    const cdof_metric_t *m = cdof_ref_metric(ref, id);
    return m ? m->index : -1;
}

static int milestone_index(const cdof_ref_t *ref, const char *id)
{
    for (size_t i = 0; i < cdof_ref_milestone_count(ref); i++) {
        if (!strcmp(cdof_ref_milestone_at(ref, i)->id, id))
            return (int)i;
    }
    return -1;
}

static int area_index(const cdof_ref_t *ref, const char *id)
{
    const cdof_area_t *a = cdof_ref_area(ref, id);
    return a && a->kind == CDOF_AREA_UTLA ? a->index : -1;
}

static int parse_set(const where_t *w, const char *key, char *v, const cdof_ref_t *ref,
                     lookup_fn lookup, const char *what, bool *on, size_t n)
{
    if (!strcmp(v, "all")) {
        for (size_t i = 0; i < n; i++)
            on[i] = true;
        return 0;
    }
    if (lookup == metric_index && !strcmp(v, "headline")) {
        for (size_t i = 0; i < n; i++)
            on[i] = cdof_ref_metric_at(ref, i)->headline;
        return 0;
    }
    memset(on, 0, n * sizeof *on);
    char *save = NULL;
    size_t count = 0;
    for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok = cdof_config_trim(tok);
        int i = lookup(ref, tok);
        if (i < 0)
            return fail(w, key, "'%s' is not %s", tok, what);
        on[i] = true;
        count++;
    }
    if (!count)
        return fail(w, key, "an empty list (write 'all' for every one)");
    return 0;
}

static int set_key(hub_rules_t *r, rule_slot_t *s, const where_t *w, const char *key, char *v)
{
    hub_rule_t *p = &s->pub;
    long n = 0; /* 0 where parse_long fails: fields are set before rc is checked */
    int rc = 0;
    if (!strcmp(key, "kind")) {
        if (kind_parse(v, &p->kind) < 0)
            return fail(w, key,
                        "'%s' is not worse_than_england, worse_than_region, worse_and_worsening, "
                        "worsening_trend, data_overdue, agent_silent, milestone_overdue or "
                        "data_quality",
                        v);
    } else if (!strcmp(key, "metrics")) {
        rc = parse_set(w, key, v, r->ref, metric_index, "a metric in the catalogue", s->metric_on,
                       cdof_ref_metric_count(r->ref));
    } else if (!strcmp(key, "milestones")) {
        rc = parse_set(w, key, v, r->ref, milestone_index, "a milestone in milestones.csv",
                       s->milestone_on, cdof_ref_milestone_count(r->ref));
    } else if (!strcmp(key, "areas")) {
        size_t na = cdof_ref_area_count(r->ref);
        if (!strcmp(v, "all")) {
            free(s->area_on);
            s->area_on = NULL;
        } else if (!(s->area_on = s->area_on ? s->area_on : calloc(na, sizeof *s->area_on))) {
            rc = -ENOMEM;
        } else {
            rc =
                parse_set(w, key, v, r->ref, area_index, "an upper-tier area code", s->area_on, na);
        }
    } else if (!strcmp(key, "level")) {
        if (!strcmp(v, "95"))
            p->confidence = 0.95;
        else if (!strcmp(v, "99.8"))
            p->confidence = 0.998;
        else
            return fail(w, key, "'%s' is not 95 or 99.8", v);
    } else if (!strcmp(key, "consecutive")) {
        rc = parse_long(w, key, v, 1, 60, &n);
        p->consecutive = (unsigned)n;
    } else if (!strcmp(key, "severity")) {
        if (!strcmp(v, "info"))
            p->severity = 1;
        else if (!strcmp(v, "warning"))
            p->severity = 2;
        else if (!strcmp(v, "critical"))
            p->severity = 3;
        else
            return fail(w, key, "'%s' is not info, warning or critical", v);
    } else if (!strcmp(key, "team")) {
        if (!*v || strlen(v) >= sizeof p->team || strchr(v, '/'))
            return fail(w, key, "'%s' is not a team name (1-15 characters, no '/')", v);
        snprintf(p->team, sizeof p->team, "%s", v);
    } else if (!strcmp(key, "days")) {
        rc = parse_long(w, key, v, 0, 3650, &p->days);
    } else if (!strcmp(key, "after")) {
        rc = parse_long(w, key, v, 1, 365L * 86400, &p->silent_s);
    } else if (!strcmp(key, "z")) {
        char *end;
        double z = strtod(v, &end);
        if (end == v || *end || !(z > 0 && z < 100))
            return fail(w, key, "'%s' is not a number above 0", v);
        p->z = z;
    } else if (!strcmp(key, "history")) {
        rc = parse_long(w, key, v, 3, 120, &p->history);
    } else {
        return fail(w, key, "unknown key (see deploy/rules.example.ini)");
    }
    return rc;
}

int hub_rules_load(const char *path, const cdof_ref_t *ref, double default_confidence,
                   hub_rules_t **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        int rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return rc;
    }
    int rc = hub_rules_parse(f, path, ref, default_confidence, out, err, errlen);
    fclose(f);
    return rc;
}

int hub_rules_parse(FILE *f, const char *path, const cdof_ref_t *ref, double default_confidence,
                    hub_rules_t **out, char *err, size_t errlen)
{
    *out = NULL;
    where_t w = {path, 0, err, errlen};
    hub_rules_t *r = rules_new(ref);
    int rc = r ? 0 : -ENOMEM;
    rule_slot_t *cur = NULL;
    bool kind_given = false;
    char buf[4096];
    while (rc == 0 && fgets(buf, sizeof buf, f)) {
        w.line++;
        if (!strchr(buf, '\n') && !feof(f)) {
            rc = fail(&w, NULL, "line longer than %zu bytes", sizeof buf - 2);
            break;
        }
        char *s = cdof_config_trim(buf);
        if (w.line == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
            s = cdof_config_trim(s + 3);
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            if (cur && !kind_given && kind_parse(cur->pub.name, &cur->pub.kind) < 0) {
                rc = fail(&w, NULL, "rule [%s] before this line needs a 'kind'", cur->pub.name);
                break;
            }
            char *end = strchr(s, ']');
            if (!end || end[1]) {
                rc = fail(&w, NULL, "a section header is '[name]'");
                break;
            }
            *end = '\0';
            char *name = cdof_config_trim(s + 1);
            cur = NULL;
            kind_given = false;
            if (!strncmp(name, "partnership ", 12)) {
                /* One definition of partnerships: the hub's, used by comparisons, compliance
                 * and the key registry too. */
                rc = fail(&w, NULL,
                          "[%s]: partnerships are no longer defined in the rules file; list "
                          "them in cdof-hub --partnerships FILE (CSV partnership,area_code)",
                          name);
                break;
            }
            bool bad_name = !*name || strlen(name) >= HUB_RULE_NAME_MAX;
            for (const char *c = name; *c && !bad_name; c++)
                bad_name = !(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_');
            if (bad_name) {
                rc = fail(&w, NULL, "rule name '%s': use a-z, 0-9 and _, up to %d characters", name,
                          HUB_RULE_NAME_MAX - 1);
                break;
            }
            for (size_t i = 0; i < r->nrules; i++) {
                if (!strcmp(r->rules[i].pub.name, name)) {
                    rc = fail(&w, NULL, "rule [%s] is defined twice", name);
                    break;
                }
            }
            if (rc)
                break;
            hub_rule_kind_t kind = HUB_RULE_WORSE_THAN_ENGLAND;
            kind_parse(name, &kind);
            if (!(cur = rule_add(r, name, kind, default_confidence))) {
                rc = r->nrules == MAX_RULES ? fail(&w, NULL, "more than %d rules", MAX_RULES)
                                            : -ENOMEM;
                break;
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = fail(&w, NULL, "expected 'key = value' or '[section]'");
            break;
        }
        *eq = '\0';
        char *key = cdof_config_trim(s), *val = cdof_config_trim(eq + 1);
        char *hash = strpbrk(val, "#;"); /* trailing comments */
        if (hash && (hash == val || isspace((unsigned char)hash[-1])))
            *hash = '\0', val = cdof_config_trim(val);
        if (!cur) {
            rc = fail(&w, key, "outside a [rule] section");
            break;
        }
        kind_given |= !strcmp(key, "kind");
        rc = set_key(r, cur, &w, key, val);
    }
    if (rc == 0 && ferror(f))
        rc = -EIO, snprintf(err, errlen, "%s: read error", path);
    if (rc == 0 && cur && !kind_given && kind_parse(cur->pub.name, &cur->pub.kind) < 0) {
        w.line++;
        rc = fail(&w, NULL, "rule [%s] needs a 'kind'", cur->pub.name);
    }
    if (rc == 0 && r->nrules == 0) {
        snprintf(err, errlen, "%s: no rules (a [section] per rule)", path);
        rc = CDOF_EINVALID;
    }
    if (rc < 0) {
        hub_rules_destroy(&r);
        return rc;
    }
    for (size_t i = 0; i < r->nrules; i++)
        rule_link(&r->rules[i]);
    *out = r;
    return 0;
}

/* --- pure helpers --- */

int hub_rules_matcher_check(const char *matcher, char *err, size_t errlen)
{
    const char *a = strchr(matcher, '|'), *b = a ? strchr(a + 1, '|') : NULL;
    if (!a || !b || strchr(b + 1, '|') || a == matcher || b == a + 1 || !b[1]) {
        snprintf(err, errlen, "'%s' is not RULE|SUBJECT|AREA (any part may be *)", matcher);
        return -EINVAL;
    }
    return 0;
}

bool hub_rules_key_matches(const char *matcher, const char *key)
{
    for (;;) {
        const char *me = strchr(matcher, '|'), *ke = strchr(key, '|');
        size_t ml = me ? (size_t)(me - matcher) : strlen(matcher);
        size_t kl = ke ? (size_t)(ke - key) : strlen(key);
        if (!(ml == 1 && *matcher == '*') && (ml != kl || memcmp(matcher, key, ml) != 0))
            return false;
        if (!me || !ke)
            return !me && !ke;
        matcher = me + 1;
        key = ke + 1;
    }
}

bool hub_rules_underperformance(hub_rule_kind_t k)
{
    return k == HUB_RULE_WORSE_THAN_ENGLAND || k == HUB_RULE_WORSE_THAN_REGION ||
           k == HUB_RULE_WORSE_AND_WORSENING || k == HUB_RULE_WORSENING_TREND;
}

const hub_rule_t *hub_rules_for_key(const hub_rules_t *rules, const char *key)
{
    size_t n = strcspn(key, "|");
    for (size_t i = 0; i < hub_rules_count(rules); i++) {
        const hub_rule_t *r = hub_rules_at(rules, i);
        if (strlen(r->name) == n && !memcmp(r->name, key, n))
            return r;
    }
    return NULL;
}

int32_t hub_rules_add_months(int32_t days, int n)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;
    cdof_civil_from_days(days, &y, &m, &d);
    int idx = (y * 12 + (m - 1)) + n;
    y = idx / 12;
    m = idx % 12 + 1;
    int last = dim[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    return cdof_days_from_civil(y, m, d < last ? d : last);
}

bool hub_rules_milestone_due(const cdof_milestone_t *m, int32_t today, int32_t *due,
                             int32_t *cycle_start)
{
    if (today <= m->deadline)
        return false;
    int32_t d = m->deadline, prev = INT32_MIN;
    if (m->recurrence_months > 0) {
        /* Bounded: a century of monthly recurrences at most. */
        for (int k = 1; k < 1200; k++) {
            int32_t next = hub_rules_add_months(m->deadline, k * m->recurrence_months);
            if (next >= today)
                break;
            prev = d;
            d = next;
        }
    }
    *due = d;
    *cycle_start = prev;
    return true;
}
