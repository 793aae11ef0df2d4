/* The alert lifecycle (hub_alerts.h, docs/DESIGN.md "Alerts"): streaks and states of dedupe
 * keys, changes stored with their global sequence, muting by silences and inhibitions, notices
 * again when muting ends, acknowledgements. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_clock.h"
#include "cdof_error.h"
#include "cdof_grow.h"
#include "cdof_log.h"
#include "cdof_wire.h"
#include "hub_alert_codec.h"
#include "hub_alerts.h"

#define DEDUPE_MAX 192 /* rule (32) | subject (65) | area or partnership (65) */

/* An alert of the open transaction, published after it commits. */
typedef struct {
    Cdof__V1__Alert alert;
    Cdof__V1__Period period;
    char rule[HUB_RULE_NAME_MAX], metric[CDOF_WIRE_MAX_ID + 1], area[16], region[16], team[16];
    char subject[CDOF_WIRE_MAX_ID + 1], dedupe[DEDUPE_MAX], summary[CDOF_WIRE_MAX_TEXT];
    char acked[CDOF_WIRE_MAX_ID + 1], acked_key[CDOF_WIRE_MAX_ID + 1], muted[CDOF_WIRE_MAX_TEXT];
    char topic[96];
} change_t;

struct hub_alerts {
    cdof_store_t *store;
    const cdof_ref_t *ref;
    hub_rules_t *rules;
    hub_silences_t *silences;
    cdof_store_db_t db_alerts, db_state, db_inhibit;
    uint64_t next_seq; /* of the first pending change */
    change_t *pending; /* changes of the open transaction, in sequence order */
    size_t npending, cap_pending;
    uint64_t writes; /* store writes since hub_alerts_begin */
};

/* Pointers inside a change point into the change itself, so a grown array is re-linked. */
static void relink(change_t *c)
{
    Cdof__V1__Alert *a = &c->alert;
    a->rule = c->rule;
    a->metric_id = c->metric;
    a->area_code = c->area;
    a->region_code = c->region;
    a->team = c->team;
    a->period = c->period.kind ? &c->period : NULL;
    a->summary = c->summary;
    a->dedupe_key = c->dedupe;
    a->acknowledged_by = c->acked;
    a->acknowledged_key = c->acked_key;
    a->muted_by = c->muted;
    a->subject = c->subject;
}

static change_t *new_change(hub_alerts_t *al)
{
    change_t *p = cdof_grow(al->pending, al->npending, &al->cap_pending, 64, sizeof *p);
    if (!p)
        return NULL;
    if (p != al->pending) {
        al->pending = p;
        for (size_t i = 0; i < al->npending; i++)
            relink(&p[i]);
    }
    change_t *c = &al->pending[al->npending++];
    memset(c, 0, sizeof *c);
    cdof__v1__alert__init(&c->alert);
    cdof__v1__period__init(&c->period);
    return c;
}

/* Gives c (a pending change) its sequence and stores it in the open transaction. Sequences are
 * provisional until the commit: pending changes take the next ones in order. */
static int change_store(hub_alerts_t *al, cdof_store_txn_t *txn, change_t *c)
{
    relink(c);
    cdof_wire_alert_topic(c->team, c->region, c->area, c->topic, sizeof c->topic);
    c->alert.sequence = al->next_seq + (uint64_t)(c - al->pending);
    c->alert.raised_ms = cdof_clock_now_ms();
    uint8_t k[8], *buf;
    size_t len;
    cdof_store_be64(k, c->alert.sequence);
    int rc = cdof_wire_pack(&c->alert.base, &buf, &len);
    if (rc < 0)
        return rc;
    rc = cdof_store_put(txn, al->db_alerts, k, sizeof k, buf, len);
    free(buf);
    al->writes++;
    return rc;
}

/* A new change copying a stored alert's figures and strings. */
static change_t *change_copy(hub_alerts_t *al, const Cdof__V1__Alert *src)
{
    change_t *c = new_change(al);
    if (!c)
        return NULL;
    Cdof__V1__Alert *a = &c->alert;
    a->state = src->state;
    a->severity = src->severity;
    a->value = src->value;
    a->lower = src->lower;
    a->upper = src->upper;
    a->benchmark = src->benchmark;
    a->verdict = src->verdict;
    a->confidence = src->confidence;
    a->fired_sequence = src->fired_sequence;
    a->consecutive = src->consecutive;
    a->reported = src->reported;
    a->expected = src->expected;
    if (src->period) {
        c->period.kind = src->period->kind;
        c->period.first_day = src->period->first_day;
        c->period.last_day = src->period->last_day;
    }
    snprintf(c->rule, sizeof c->rule, "%s", src->rule);
    snprintf(c->metric, sizeof c->metric, "%s", src->metric_id);
    snprintf(c->area, sizeof c->area, "%s", src->area_code);
    snprintf(c->region, sizeof c->region, "%s", src->region_code);
    snprintf(c->team, sizeof c->team, "%s", src->team);
    snprintf(c->subject, sizeof c->subject, "%s", src->subject ? src->subject : "");
    snprintf(c->dedupe, sizeof c->dedupe, "%s", src->dedupe_key);
    snprintf(c->summary, sizeof c->summary, "%s", src->summary);
    return c;
}

/* --- the state of a dedupe key (hub_alert_codec.h) --- */

static int state_get(hub_alerts_t *al, cdof_store_txn_t *txn, const char *key,
                     hub_alert_state_t *st)
{
    hub_alert_state_init(st);
    cdof_bytes_t val;
    int rc = cdof_store_get(txn, al->db_state, key, strlen(key), &val);
    if (rc == CDOF_ENOTFOUND)
        return 0;
    return rc < 0 ? rc : hub_alert_state_decode(val.data, val.len, st);
}

static int state_put(hub_alerts_t *al, cdof_store_txn_t *txn, const char *key,
                     const hub_alert_state_t *st)
{
    uint8_t now[HUB_ALERT_STATE_LEN];
    hub_alert_state_encode(st, now);
    cdof_bytes_t old;
    int rc = cdof_store_get(txn, al->db_state, key, strlen(key), &old);
    if (rc == 0 && old.len == sizeof now && !memcmp(old.data, now, sizeof now))
        return 0; /* unchanged: a tick that changes nothing commits nothing */
    if (rc < 0 && rc != CDOF_ENOTFOUND)
        return rc;
    al->writes++;
    return cdof_store_put(txn, al->db_state, key, strlen(key), now, sizeof now);
}

/* --- muting --- */

/* Why an alert for key (of team and region) firing now is muted ("" when it is not). */
static int mute_reason(hub_alerts_t *al, cdof_store_txn_t *txn, const char *key, const char *team,
                       const char *region, bool underperformance, const char *area, char *why,
                       size_t len)
{
    int rc = hub_silences_match(al->silences, txn, key, team, region, why, len);
    if (rc < 0 || why[0] || !underperformance || !area)
        return rc;
    /* Inhibition: "data overdue" for the area mutes its underperformance alerts. */
    char prefix[32];
    int plen = snprintf(prefix, sizeof prefix, "%s|", area);
    cdof_bytes_t k, v;
    rc = cdof_store_first(txn, al->db_inhibit, prefix, (size_t)plen, &k, &v);
    if (rc == CDOF_ENOTFOUND || (rc == 0 && !cdof_store_has_prefix(&k, prefix, (size_t)plen)))
        return 0;
    if (rc < 0)
        return rc;
    const char *fires = (const char *)k.data + plen; /* the data-overdue alert's dedupe key */
    snprintf(why, len, "inhibited while %.*s fires", (int)(k.len - (size_t)plen), fires);
    return 0;
}

/* --- settling findings --- */

static int severity_of(const hub_finding_t *f, bool firing)
{
    if (!firing)
        return CDOF__V1__SEVERITY__SEVERITY_INFO;
    if (f->rule->severity)
        return f->rule->severity;
    return f->worst ? CDOF__V1__SEVERITY__SEVERITY_CRITICAL : CDOF__V1__SEVERITY__SEVERITY_WARNING;
}

/* A change for finding f of key, now firing or not (in st's streak). */
static int change_of(hub_alerts_t *al, cdof_store_txn_t *txn, const hub_finding_t *f,
                     const char *key, bool firing, hub_alert_state_t *st)
{
    change_t *c = new_change(al);
    if (!c)
        return -ENOMEM;
    const cdof_area_t *region = NULL;
    if (f->area && f->area->region_code)
        region = cdof_ref_area(al->ref, f->area->region_code);
    snprintf(c->rule, sizeof c->rule, "%s", f->rule->name);
    snprintf(c->metric, sizeof c->metric, "%s", f->metric_id ? f->metric_id : "");
    snprintf(c->subject, sizeof c->subject, "%s", f->subject);
    snprintf(c->area, sizeof c->area, "%s", f->area ? f->area->code : CDOF_ENGLAND_CODE);
    snprintf(c->region, sizeof c->region, "%s",
             region                                         ? region->code
             : f->area && f->area->kind == CDOF_AREA_REGION ? f->area->code
                                                            : CDOF_ENGLAND_CODE);
    snprintf(c->team, sizeof c->team, "%s", f->team ? f->team : "");
    snprintf(c->dedupe, sizeof c->dedupe, "%s", key);
    snprintf(c->summary, sizeof c->summary, "%s", firing ? f->fire : f->clear);
    if (f->has_period)
        cdof_wire_period_to_msg(&f->period, &c->period);
    Cdof__V1__Alert *a = &c->alert;
    a->state = firing ? CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING
                      : CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED;
    a->severity = (Cdof__V1__Severity)severity_of(f, firing);
    a->value = f->value;
    a->lower = f->lower;
    a->upper = f->upper;
    a->benchmark = f->benchmark;
    a->verdict = (Cdof__V1__Verdict)f->verdict;
    a->confidence = f->confidence;
    a->consecutive = st->streak;
    a->reported = f->reported;
    a->expected = f->expected;
    int rc = 0;
    if (firing) {
        rc = mute_reason(al, txn, key, c->team, c->region, f->underperformance,
                         f->area ? f->area->code : NULL, c->muted, sizeof c->muted);
    } else {
        a->fired_sequence = st->fired_seq;
        if (!st->notified) /* nobody was told it fired: nobody needs telling it ended */
            snprintf(c->muted, sizeof c->muted, "its firing #%llu was muted",
                     (unsigned long long)st->fired_seq);
    }
    if (rc == 0)
        rc = change_store(al, txn, c);
    if (rc < 0)
        return rc;
    st->firing = firing;
    if (firing) {
        st->fired_seq = a->sequence;
        st->notified = !c->muted[0];
    }
    return 0;
}

int hub_alerts_settle(hub_alerts_t *al, cdof_store_txn_t *txn, const hub_finding_t *f)
{
    char key[DEDUPE_MAX];
    snprintf(key, sizeof key, "%s|%s|%s", f->rule->name, f->subject, f->key_area);
    hub_alert_state_t st;
    int rc = state_get(al, txn, key, &st);
    if (rc < 0)
        return rc;
    if (f->periodic && f->has_period) {
        /* Data for an older period than the one last judged does not change today's state. */
        if (f->period.first_day < st.period_first_day)
            return 0;
        if (f->period.first_day > st.period_first_day) {
            st.streak_before = st.streak;
            st.period_first_day = f->period.first_day;
        }
        st.streak = f->bad ? st.streak_before + 1 : 0;
    } else {
        st.streak = f->bad ? (st.streak ? st.streak : 1) : 0;
    }
    bool firing = f->bad && st.streak >= f->rule->consecutive;
    if (firing == st.firing)
        return state_put(al, txn, key, &st);
    if ((rc = change_of(al, txn, f, key, firing, &st)) < 0)
        return rc;
    /* A firing "data overdue" inhibits the area's underperformance alerts. */
    if (f->rule->kind == HUB_RULE_DATA_OVERDUE && f->area) {
        char ik[DEDUPE_MAX + 32];
        int ilen = snprintf(ik, sizeof ik, "%s|%s", f->area->code, key);
        rc = firing ? cdof_store_put(txn, al->db_inhibit, ik, (size_t)ilen, "", 0)
                    : cdof_store_del(txn, al->db_inhibit, ik, (size_t)ilen);
        if (rc == CDOF_ENOTFOUND)
            rc = 0;
        if (rc < 0)
            return rc;
    }
    return state_put(al, txn, key, &st);
}

int hub_alerts_settle_all(hub_alerts_t *al, cdof_store_txn_t *txn, const hub_finding_t *f, size_t n)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = hub_alerts_settle(al, txn, &f[i]);
    return rc;
}

/* --- notifying again once muting ends --- */

typedef struct {
    char (*keys)[DEDUPE_MAX];
    size_t n, cap;
} keys_t;

/* The keys of alerts firing but not notified (muted when they fired), copied: the caller
 * writes to db_state while going through them. */
static int muted_keys(hub_alerts_t *al, cdof_store_txn_t *txn, keys_t *ks)
{
    cdof_store_cursor_t *c;
    cdof_bytes_t k, v;
    int rc = cdof_store_cursor_open(txn, al->db_state, &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, &k, &v); rc > 0;
         rc = cdof_store_cursor_next(c, &k, &v)) {
        hub_alert_state_t st;
        if (k.len >= sizeof ks->keys[0] || hub_alert_state_decode(v.data, v.len, &st) < 0 ||
            !st.firing || st.notified)
            continue;
        void *p = cdof_grow(ks->keys, ks->n, &ks->cap, 64, sizeof ks->keys[0]);
        if (!p) {
            rc = -ENOMEM;
            break;
        }
        ks->keys = p;
        memcpy(ks->keys[ks->n], k.data, k.len);
        ks->keys[ks->n++][k.len] = '\0';
    }
    cdof_store_cursor_close(&c);
    return rc < 0 ? rc : 0;
}

int hub_alerts_renotify(hub_alerts_t *al, cdof_store_txn_t *txn)
{
    keys_t ks = {0};
    int rc = muted_keys(al, txn, &ks);
    for (size_t i = 0; rc == 0 && i < ks.n; i++) {
        const char *key = ks.keys[i];
        const hub_rule_t *rule = hub_rules_for_key(al->rules, key);
        const char *area = strrchr(key, '|');
        area = area ? area + 1 : "";
        hub_alert_state_t st;
        if ((rc = state_get(al, txn, key, &st)) < 0)
            break;
        uint8_t sk[8];
        cdof_store_be64(sk, st.fired_seq);
        cdof_bytes_t v;
        if ((rc = cdof_store_get(txn, al->db_alerts, sk, sizeof sk, &v)) < 0)
            break;
        char err[128];
        Cdof__V1__Alert *old = cdof_wire_alert_decode(v.data, v.len, err, sizeof err);
        if (!old) {
            rc = CDOF_ECORRUPT;
            break;
        }
        /* A silence's scope is the alert's team and region, which the firing record holds. */
        char why[CDOF_WIRE_MAX_TEXT];
        rc = mute_reason(al, txn, key, old->team, old->region_code,
                         rule && hub_rules_underperformance(rule->kind), area, why, sizeof why);
        if (rc < 0 || why[0]) {
            cdof__v1__alert__free_unpacked(old, NULL);
            continue;
        }
        change_t *c = change_copy(al, old);
        cdof__v1__alert__free_unpacked(old, NULL);
        if (!c) {
            rc = -ENOMEM;
            break;
        }
        c->alert.fired_sequence = st.fired_seq;
        if ((rc = change_store(al, txn, c)) < 0)
            break;
        st.fired_seq = c->alert.sequence;
        st.notified = true;
        rc = state_put(al, txn, key, &st);
    }
    free(ks.keys);
    return rc;
}

/* --- acknowledgements, from the query endpoint --- */

int hub_alerts_ack(hub_alerts_t *al, const hub_party_t *party, const Cdof__V1__AlertAck *ack,
                   Cdof__V1__Alert **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!ack->by || !*ack->by) {
        snprintf(err, errlen, "an acknowledgement needs the name of the person (--by NAME)");
        return CDOF_EINVALID;
    }
    cdof_store_txn_t *txn = NULL;
    Cdof__V1__Alert *old = NULL;
    hub_alerts_begin(al);
    int rc = cdof_store_begin(al->store, true, &txn);
    if (rc < 0)
        return rc;
    uint8_t sk[8];
    cdof_store_be64(sk, ack->sequence);
    cdof_bytes_t v;
    if ((rc = cdof_store_get(txn, al->db_alerts, sk, sizeof sk, &v)) < 0) {
        if (rc == CDOF_ENOTFOUND)
            snprintf(err, errlen, "there is no alert #%llu", (unsigned long long)ack->sequence);
        goto fail;
    }
    if (!(old = cdof_wire_alert_decode(v.data, v.len, err, errlen))) {
        rc = CDOF_ECORRUPT;
        goto fail;
    }
    if (!hub_party_covers(party, old->team, old->region_code)) {
        snprintf(err, errlen, "key '%s' may not acknowledge alert #%llu (team %s, region %s): %s",
                 party->id, (unsigned long long)ack->sequence, old->team, old->region_code,
                 party->may_act ? "outside its team and region" : "it may only read");
        rc = -EACCES;
        goto fail;
    }
    hub_alert_state_t st;
    if ((rc = state_get(al, txn, old->dedupe_key, &st)) < 0)
        goto fail;
    if (!st.firing) {
        snprintf(err, errlen, "alert #%llu (%s) is not firing now",
                 (unsigned long long)ack->sequence, old->dedupe_key);
        rc = CDOF_EINVALID;
        goto fail;
    }
    change_t *c = change_copy(al, old);
    if (!c) {
        rc = -ENOMEM;
        goto fail;
    }
    c->alert.state = CDOF__V1__ALERT_STATE__ALERT_STATE_ACKNOWLEDGED;
    c->alert.fired_sequence = st.fired_seq;
    if (!st.notified) /* acknowledging what nobody was told of tells nobody either */
        snprintf(c->muted, sizeof c->muted, "its firing #%llu is muted",
                 (unsigned long long)st.fired_seq);
    snprintf(c->acked, sizeof c->acked, "%s", ack->by);
    snprintf(c->acked_key, sizeof c->acked_key, "%s", party ? party->id : "");
    char summary[CDOF_WIRE_MAX_TEXT];
    snprintf(summary, sizeof summary, "acknowledged by %s%s%s%s%s: %s", ack->by,
             party ? " via " : "", party ? party->id : "", ack->note && *ack->note ? " - " : "",
             ack->note ? ack->note : "", old->summary);
    snprintf(c->summary, sizeof c->summary, "%s", summary);
    if ((rc = change_store(al, txn, c)) < 0 || (rc = cdof_store_commit(&txn)) < 0)
        goto fail;
    uint8_t *buf;
    size_t len;
    if (cdof_wire_pack(&c->alert.base, &buf, &len) == 0) {
        *out = cdof__v1__alert__unpack(NULL, len, buf);
        free(buf);
    }
    cdof__v1__alert__free_unpacked(old, NULL);
    return *out ? 0 : -ENOMEM;
fail:
    hub_alerts_discard(al);
    cdof_store_abort(&txn);
    if (old)
        cdof__v1__alert__free_unpacked(old, NULL);
    return rc;
}

/* --- transactions and publishing --- */

void hub_alerts_begin(hub_alerts_t *al)
{
    al->npending = 0;
    al->writes = 0;
}

void hub_alerts_discard(hub_alerts_t *al)
{
    al->npending = 0;
}

uint64_t hub_alerts_writes(const hub_alerts_t *al)
{
    return al->writes;
}

size_t hub_alerts_publish(hub_alerts_t *al, hub_alerts_send_fn send, void *ctx)
{
    /* Committed, so now published: a subscriber that misses one asks the query endpoint. */
    for (size_t i = 0; i < al->npending; i++) {
        const change_t *c = &al->pending[i];
        uint8_t *buf;
        size_t len;
        if (send && cdof_wire_pack(&c->alert.base, &buf, &len) == 0) {
            send(ctx, c->topic, buf, len);
            free(buf);
        }
        const char *state = c->alert.state == CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING ? "firing"
                            : c->alert.state == CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED
                                ? "resolved"
                                : "acknowledged";
        cdof_log_info("alert #%llu %s %s%s%s", (unsigned long long)c->alert.sequence, state,
                      c->summary, c->muted[0] ? "; muted: " : "", c->muted);
    }
    size_t n = al->npending;
    al->next_seq += n;
    al->npending = 0;
    return n;
}

int hub_alerts_seek(const hub_alerts_t *al, cdof_store_txn_t *txn, uint64_t from,
                    cdof_store_cursor_t **out, cdof_bytes_t *key, cdof_bytes_t *val)
{
    uint8_t k[8];
    cdof_store_be64(k, from);
    *out = NULL;
    int rc = cdof_store_cursor_open(txn, al->db_alerts, out);
    return rc < 0 ? rc : cdof_store_cursor_seek(*out, k, sizeof k, key, val);
}

/* --- opening --- */

int hub_alerts_open(cdof_store_t *store, const cdof_ref_t *ref, hub_rules_t *rules,
                    long silence_max_days, hub_alerts_t **out)
{
    *out = NULL;
    hub_alerts_t *al = calloc(1, sizeof *al);
    if (!al) {
        hub_rules_destroy(&rules);
        return -ENOMEM;
    }
    al->store = store;
    al->ref = ref;
    al->rules = rules;
    int rc;
    cdof_store_txn_t *txn = NULL;
    if ((rc = cdof_store_db(store, "alerts", &al->db_alerts)) < 0 ||
        (rc = cdof_store_db(store, "alert_state", &al->db_state)) < 0 ||
        (rc = cdof_store_db(store, "alert_inhibit", &al->db_inhibit)) < 0 ||
        (rc = hub_silences_open(store, ref, silence_max_days, &al->silences)) < 0 ||
        (rc = cdof_store_begin(store, false, &txn)) < 0)
        goto fail;
    cdof_bytes_t k, v;
    rc = cdof_store_last(txn, al->db_alerts, &k, &v);
    if (rc == 0 && k.len == 8)
        al->next_seq = cdof_store_rd64(k.data) + 1;
    else if (rc == CDOF_ENOTFOUND || rc == 0)
        al->next_seq = 1, rc = 0;
    cdof_store_abort(&txn);
    if (rc < 0)
        goto fail;
    *out = al;
    return 0;
fail:
    hub_alerts_destroy(&al);
    return rc;
}

void hub_alerts_destroy(hub_alerts_t **a)
{
    hub_alerts_t *al = *a;
    if (!al)
        return;
    hub_silences_destroy(&al->silences);
    hub_rules_destroy(&al->rules);
    free(al->pending);
    free(al);
    *a = NULL;
}

const hub_rules_t *hub_alerts_rules(const hub_alerts_t *al)
{
    return al->rules;
}

hub_silences_t *hub_alerts_silences(hub_alerts_t *al)
{
    return al->silences;
}

uint64_t hub_alerts_next_sequence(const hub_alerts_t *al)
{
    return al->next_seq;
}
