/* Settling (hub_settle.h): the marks of metric-periods awaiting comparison and judgement, and
 * the tick that settles them and runs the rules that depend on time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_clock.h"
#include "cdof_error.h"
#include "cdof_grow.h"
#include "hub_alert_codec.h"
#include "hub_alerts.h"
#include "hub_db.h"
#include "hub_findings.h"
#include "hub_keys.h"
#include "hub_periods.h"
#include "hub_results.h"
#include "hub_rules.h"
#include "hub_settle.h"

#define FAST_RULES_MS 1000 /* agent silent; marks are scanned at least this often */
/* Marks settled in one hub_results_update call: one metric's, oldest first, sharing the rolling
 * windows and trends they revise; small enough that a tick stays near its budget. */
#define SETTLE_CHUNK 8

/* A period's rows come in several batches (agents send at their own pace; one drop spans group
 * commits). Judged at each batch, a benchmark built from part of the areas flaps alerts on and
 * off; compared at each, ingest loses most of its rate. So ingest marks the metric and period,
 * in the same transaction as the data, and the tick settles it. Keys order periods
 * chronologically within a metric, so that they are settled oldest first. */
#define MARK_KEY_MAX (CDOF_WIRE_MAX_ID + 1 + HUB_PERIOD_KEY_LEN)

struct hub_settle {
    cdof_store_db_t db;
    /* Monotonic time by which a mark may be due (0: now, leftovers; INT64_MAX: none). */
    int64_t next_ms;
    /* The last mark settled, so that the next tick goes on after it (round robin). */
    uint8_t cursor[MARK_KEY_MAX];
    size_t cursor_len;
    int64_t next_fast_ms, next_slow_ms;
    hub_touch_t *completed; /* periods the open ingest transaction completed */
    size_t ncompleted, cap_completed;
    uint64_t writes;         /* store writes of the open tick besides the alerts' */
    hub_findings_t findings; /* reused by every judgement */
};

/* --- marks --- */

static int mark_key(const cdof_metric_t *m, const cdof_period_t *p, uint8_t *key, size_t *klen)
{
    if (strlen(m->id) > CDOF_WIRE_MAX_ID)
        return CDOF_EINVALID; /* the catalogue keeps ids within it; never silently skipped */
    *klen = hub_period_key(m, p, key);
    return 0;
}

/* Removes the mark of (m, p), if any: its comparisons and alerts were just brought up to date. */
static int unmark(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, const cdof_period_t *p)
{
    uint8_t key[MARK_KEY_MAX];
    size_t klen;
    int rc = mark_key(m, p, key, &klen);
    if (rc == 0)
        rc = cdof_store_del(txn, hub->settle->db, key, klen);
    return rc == CDOF_ENOTFOUND ? 0 : rc;
}

/* Marks (m, p) with flags (HUB_MARK_*): first and latest mark times, due cfg.settle_ms after the
 * latest. */
static int mark(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, const cdof_period_t *p,
                int64_t flags)
{
    hub_settle_t *s = hub->settle;
    uint8_t key[MARK_KEY_MAX], val[HUB_SETTLE_MARK_LEN];
    size_t klen;
    int rc = mark_key(m, p, key, &klen);
    if (rc < 0)
        return rc;
    hub_settle_mark_t mk = {0, 0, 0};
    cdof_bytes_t v;
    rc = cdof_store_get(txn, s->db, key, klen, &v);
    if (rc == 0 && hub_settle_mark_decode(v.data, v.len, &mk) < 0)
        mk = (hub_settle_mark_t){0, 0, 0}; /* an unreadable mark is marked afresh */
    else if (rc < 0 && rc != CDOF_ENOTFOUND)
        return rc;
    mk.flags |= flags;
    mk.last_ms = cdof_clock_now_ms();
    if (!mk.first_ms)
        mk.first_ms = mk.last_ms;
    /* Wake the serve loop when this mark is due (an aborted batch only wakes it early). */
    int64_t due = cdof_clock_mono_ms() + hub->cfg.settle_ms;
    if (due < s->next_ms)
        s->next_ms = due;
    hub_settle_mark_encode(&mk, val);
    return cdof_store_put(txn, s->db, key, klen, val, sizeof val);
}

typedef struct {
    hub_t *hub;
    bool all;         /* every mark is due (--settle-ms 0, or a listing) */
    int64_t now;      /* wall clock */
    int64_t next_due; /* wall clock: the earliest mark not yet due (INT64_MAX: none) */
    struct marked {
        const cdof_metric_t *m; /* NULL: since removed from the catalogue */
        cdof_period_t p;
        int64_t flags;
        uint8_t key[MARK_KEY_MAX];
        size_t klen;
    } * items;
    size_t n, cap;
} due_t;

/* Adds the mark k, v to d->items when it is due, else moves d->next_due to when it will be. */
static int due_add(due_t *d, const cdof_bytes_t *k, const cdof_bytes_t *v)
{
    hub_settle_mark_t mk;
    const uint8_t *key = k->data;
    const uint8_t *nul = memchr(key, 0, k->len);
    if (!nul || k->len != (size_t)(nul - key) + 1 + HUB_PERIOD_KEY_LEN || k->len > MARK_KEY_MAX ||
        hub_settle_mark_decode(v->data, v->len, &mk) < 0)
        return CDOF_ECORRUPT;
    int64_t settle_ms = d->hub->cfg.settle_ms;
    if (!d->all && d->now - mk.last_ms < settle_ms && d->now - mk.first_ms < HUB_SETTLE_MAX_MS) {
        int64_t due = mk.last_ms + settle_ms;
        if (mk.first_ms + HUB_SETTLE_MAX_MS < due)
            due = mk.first_ms + HUB_SETTLE_MAX_MS;
        if (due < d->next_due)
            d->next_due = due;
        return 0;
    }
    struct marked *items = cdof_grow(d->items, d->n, &d->cap, 16, sizeof *items);
    if (!items)
        return -ENOMEM;
    d->items = items;
    struct marked *it = &d->items[d->n++];
    it->m = cdof_ref_metric(d->hub->ref, (const char *)key);
    it->p = hub_period_from_key(nul + 1);
    it->flags = mk.flags;
    memcpy(it->key, key, k->len);
    it->klen = k->len;
    return 0;
}

/* The marks due in db, in key order, into d. */
static int due_collect(cdof_store_txn_t *txn, cdof_store_db_t db, due_t *d)
{
    cdof_store_cursor_t *c;
    cdof_bytes_t k, v;
    int rc = cdof_store_cursor_open(txn, db, &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, &k, &v); rc > 0;
         rc = cdof_store_cursor_next(c, &k, &v)) {
        if ((rc = due_add(d, &k, &v)) < 0)
            break;
    }
    cdof_store_cursor_close(&c);
    return rc < 0 ? rc : 0;
}

int hub_settle_marks(hub_t *hub, cdof_store_txn_t *txn, hub_touch_t **items, size_t *n)
{
    *items = NULL;
    *n = 0;
    due_t d = {.hub = hub, .all = true};
    int rc = due_collect(txn, hub->settle->db, &d);
    hub_touch_t *out = rc == 0 && d.n ? calloc(d.n, sizeof *out) : NULL;
    if (rc == 0 && d.n && !out)
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < d.n; i++) {
        if (d.items[i].m)
            out[(*n)++] = (hub_touch_t){.metric = d.items[i].m, .period = d.items[i].p};
    }
    free(d.items);
    if (rc < 0) {
        free(out);
        *n = 0;
        return rc;
    }
    *items = out;
    return 0;
}

int hub_settle_count(hub_t *hub, cdof_store_txn_t *txn, uint64_t *n)
{
    return cdof_store_count(txn, hub->settle->db, n);
}

/* --- judging --- */

/* The comparison rules judge (m, p) and the alerts settle what they found (write txn). */
static int judge(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, const cdof_period_t *p)
{
    hub_findings_t *f = &hub->settle->findings;
    f->n = 0;
    int rc = hub_findings_comparisons(hub, txn, hub_alerts_rules(hub->alerts), m, p, f);
    return rc < 0 ? rc : hub_alerts_settle_all(hub->alerts, txn, f->items, f->n);
}

/* The periods completed are judged now. full: their stored comparisons, and all that depends on
 * them, are updated first (a tick, a person closing a period). Else (ingest, where every
 * millisecond delays the alert) only their own rows are, and a mark leaves what depends on them
 * (later trends, rolling windows, ...) to the tick. */
static int judge_completed(hub_t *hub, cdof_store_txn_t *txn, const hub_touch_t *done, size_t n,
                           bool full)
{
    int rc = full && n ? hub_results_update(hub, txn, done, n) : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!full)
            rc = hub_results_update_period(hub, txn, done[i].metric, &done[i].period);
        if (rc == 0)
            rc = judge(hub, txn, done[i].metric, &done[i].period);
        if (rc == 0)
            rc = full ? unmark(hub, txn, done[i].metric, &done[i].period)
                      : mark(hub, txn, done[i].metric, &done[i].period, HUB_MARK_REFRESH);
    }
    return rc;
}

static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

/* Settles the marks due: updates their stored comparisons, then judges those of complete periods
 * marked for judgement, and clears the marks (write txn), a chunk at a time. all: every mark,
 * with no budget (--settle-ms 0, in the ingest transaction). Else until the tick's budget is
 * spent; the rest stay marked for the next tick, which goes on after the last one done (round
 * robin: a busy metric cannot hold back the others). *done counts the metric-periods. */
static int settle_due(hub_t *hub, cdof_store_txn_t *txn, bool all, bool busy, uint64_t *done)
{
    hub_settle_t *s = hub->settle;
    int64_t start = cdof_clock_mono_ms();
    due_t d = {.hub = hub, .all = all, .now = cdof_clock_now_ms(), .next_due = INT64_MAX};
    hub_touch_t chunk[SETTLE_CHUNK];
    int rc = due_collect(txn, s->db, &d);
    size_t first = 0; /* the first mark after the cursor */
    while (!all && first < d.n &&
           key_cmp(d.items[first].key, d.items[first].klen, s->cursor, s->cursor_len) <= 0)
        first++;
    size_t left = d.n;
    for (size_t i = first % (d.n ? d.n : 1); rc == 0 && left > 0;) {
        int64_t budget = busy ? HUB_SETTLE_BUSY_MS : HUB_SETTLE_BUDGET_MS;
        if (!all && cdof_clock_mono_ms() - start >= budget && left < d.n)
            break;
        /* A chunk: one metric's marks, in key order (oldest first), not across the wrap. */
        size_t n = 0, k = i;
        const cdof_metric_t *m = d.items[i].m;
        while (n < SETTLE_CHUNK && n < left && d.items[k].m == m) {
            if (m)
                chunk[n] = (hub_touch_t){.metric = m,
                                         .period = d.items[k].p,
                                         .refresh = (d.items[k].flags & HUB_MARK_REFRESH) != 0};
            n++;
            k = (k + 1) % d.n;
            if (k == 0)
                break;
        }
        /* A metric since removed from the catalogue is dropped. */
        if (m)
            rc = hub_results_update(hub, txn, chunk, n);
        for (size_t c = 0; rc == 0 && c < n; c++) {
            const struct marked *it = &d.items[(i + c) % d.n];
            /* Alerts judge only complete periods, here those revised since they were judged.
             * An open period's comparisons are stored (provisional) and wait for the rows that
             * complete it, which judge it. */
            bool complete = false;
            if (m && hub_period_native(m, it->p.kind) && (it->flags & HUB_MARK_REJUDGE))
                rc = hub_period_done(hub, txn, m, &it->p, &complete);
            if (rc == 0 && complete)
                rc = judge(hub, txn, m, &it->p);
            if (rc == 0)
                rc = cdof_store_del(txn, s->db, it->key, it->klen);
            s->writes++;
        }
        if (rc == 0 && !all) {
            const struct marked *last = &d.items[(i + n - 1) % d.n];
            memcpy(s->cursor, last->key, last->klen);
            s->cursor_len = last->klen;
        }
        if (rc == 0)
            *done += m ? n : 0;
        left -= n;
        i = k;
    }
    /* Leftovers: the next turn of the serve loop comes straight back, or, while batches keep
     * coming, after (HUB_SETTLE_SHARE - 1) times this tick's time, so that comparisons take at
     * most a share of the hub's one thread under load; else when a mark is due. */
    int64_t mono = cdof_clock_mono_ms();
    if (left > 0)
        s->next_ms = mono + (busy ? (HUB_SETTLE_SHARE - 1) * (mono - start) : 0);
    else if (!all && d.next_due == INT64_MAX)
        s->next_ms = INT64_MAX;
    else if (!all)
        s->next_ms = mono + (d.next_due > d.now ? d.next_due - d.now : 0);
    free(d.items);
    return rc;
}

/* --- ingest --- */

void hub_settle_begin(hub_t *hub)
{
    hub->settle->ncompleted = 0;
    hub_alerts_begin(hub->alerts);
}

void hub_settle_discard(hub_t *hub)
{
    hub->settle->ncompleted = 0;
    hub_alerts_discard(hub->alerts);
}

int hub_settle_touch(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p)
{
    hub_settle_t *s = hub->settle;
    hub_period_change_t ch;
    int rc = hub_period_touch(hub, txn, m, p, &ch);
    if (rc < 0)
        return rc;
    if (ch == HUB_PERIOD_COMPLETED && hub->cfg.settle_ms > 0) {
        /* The rows that complete a period trigger its judgement, once, in their transaction
         * (hub_settle_ingested, after the batch's touches are all counted). */
        hub_touch_t *d = cdof_grow(s->completed, s->ncompleted, &s->cap_completed, 16, sizeof *d);
        if (!d)
            return -ENOMEM;
        s->completed = d;
        s->completed[s->ncompleted++] = (hub_touch_t){.metric = m, .period = *p};
        return 0;
    }
    /* Every other touched period is marked, native or not: its stored comparisons (provisional
     * while open) are brought up to date when it settles, and a complete period, revised or
     * (with --settle-ms 0) just completed, is judged then. */
    return mark(hub, txn, m, p, ch == HUB_PERIOD_UNCHANGED ? 0 : HUB_MARK_REJUDGE);
}

int hub_settle_ingested(hub_t *hub, cdof_store_txn_t *txn)
{
    hub_settle_t *s = hub->settle;
    uint64_t done = 0;
    int rc = 0;
    if (hub->cfg.settle_ms <= 0) {
        /* Everything marked settles in the batch's own transaction. */
        rc = settle_due(hub, txn, true, false, &done);
    } else {
        rc = judge_completed(hub, txn, s->completed, s->ncompleted, false);
        done = s->ncompleted;
    }
    if (rc == 0)
        hub->counters.comparisons += done;
    s->ncompleted = 0;
    return rc;
}

/* --- the tick --- */

static int timed_rules(hub_t *hub, cdof_store_txn_t *txn, bool slow, int64_t now, int32_t today)
{
    const hub_rules_t *rules = hub_alerts_rules(hub->alerts);
    hub_findings_t *f = &hub->settle->findings;
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < hub_rules_count(rules); k++) {
        const hub_rule_t *rule = hub_rules_at(rules, k);
        f->n = 0;
        if (rule->kind == HUB_RULE_AGENT_SILENT) {
            rc = hub_findings_agent_silent(hub, txn, rule, now, f);
        } else if (slow && rule->kind == HUB_RULE_MILESTONE_OVERDUE) {
            rc = hub_findings_milestone_overdue(hub, txn, rule, today, f);
        } else if (slow && rule->kind == HUB_RULE_DATA_OVERDUE) {
            for (size_t i = 0; rc == 0 && i < cdof_ref_metric_count(hub->ref); i++) {
                if (rule->metric_on[i])
                    rc = hub_findings_data_overdue(hub, txn, rule, cdof_ref_metric_at(hub->ref, i),
                                                   today, f);
            }
        }
        if (rc == 0)
            rc = hub_alerts_settle_all(hub->alerts, txn, f->items, f->n);
    }
    return rc;
}

int hub_settle_tick(hub_t *hub, bool ingest_busy)
{
    hub_settle_t *s = hub->settle;
    int64_t now = cdof_clock_now_ms(), mono = cdof_clock_mono_ms();
    bool fast = mono >= s->next_fast_ms, slow = mono >= s->next_slow_ms;
    bool due = mono >= s->next_ms;
    if (!fast && !slow && !due)
        return 0;
    if (fast)
        s->next_fast_ms = mono + FAST_RULES_MS;
    if (slow)
        s->next_slow_ms = mono + HUB_SLOW_RULES_MS;
    int rc = 0;
    uint64_t done = 0;
    /* The cursor moves only with a commit: an aborted tick does the same marks again. */
    uint8_t cursor[sizeof s->cursor];
    size_t cursor_len = s->cursor_len;
    memcpy(cursor, s->cursor, cursor_len);
    for (int attempt = 0; attempt < 3; attempt++) {
        cdof_store_txn_t *txn = NULL;
        hub_settle_begin(hub);
        s->writes = 0;
        done = 0;
        memcpy(s->cursor, cursor, cursor_len);
        s->cursor_len = cursor_len;
        int32_t today = cdof_clock_today();
        rc = cdof_store_begin(hub->store, true, &txn);
        /* Comparisons first, then the rules that read them. Marks are also scanned every
         * second: the wall clock may move apart from mono. */
        if (rc == 0 && (due || fast))
            rc = settle_due(hub, txn, false, ingest_busy, &done);
        /* A turn only for settled marks runs no timed rule. */
        if (rc == 0 && (fast || slow))
            rc = timed_rules(hub, txn, slow, now, today);
        if (rc == 0 && slow) {
            /* Open periods past their deadline at or above their threshold complete now. */
            hub_touch_t *completed = NULL;
            size_t n = 0;
            rc = hub_period_deadlines(hub, txn, &completed, &n);
            if (rc == 0 && n) {
                rc = judge_completed(hub, txn, completed, n, true);
                s->writes++;
                done += n;
            }
            free(completed);
        }
        if (rc == 0 && slow)
            rc = hub_alerts_renotify(hub->alerts, txn);
        if (rc == 0 && (s->writes || hub_alerts_writes(hub->alerts)))
            rc = cdof_store_commit(&txn);
        else
            cdof_store_abort(&txn);
        if (rc < 0)
            hub_settle_discard(hub);
        if (rc != CDOF_EMAPFULL)
            break;
    }
    if (rc == 0) {
        hub->counters.comparisons += done;
    } else {
        memcpy(s->cursor, cursor, cursor_len);
        s->cursor_len = cursor_len;
        s->next_ms = mono + FAST_RULES_MS; /* a failing store: not in a tight loop */
    }
    return rc;
}

int hub_settle_wait_ms(const hub_t *hub)
{
    const hub_settle_t *s = hub->settle;
    int64_t mono = cdof_clock_mono_ms();
    int64_t next = s->next_fast_ms < s->next_ms ? s->next_fast_ms : s->next_ms;
    if (next <= mono)
        return 0;
    return next - mono > FAST_RULES_MS ? FAST_RULES_MS : (int)(next - mono);
}

/* --- closing a period, from the query endpoint --- */

int hub_settle_close_period(hub_t *hub, const hub_party_t *party,
                            const Cdof__V1__PeriodClose *close, Cdof__V1__PeriodStatus **out,
                            char *err, size_t errlen)
{
    *out = NULL;
    const cdof_metric_t *m = close->metric_id ? cdof_ref_metric(hub->ref, close->metric_id) : NULL;
    cdof_period_t p;
    if (!m) {
        snprintf(err, errlen, "metric_id '%.64s' is not in the catalogue",
                 close->metric_id ? close->metric_id : "");
        return CDOF_EINVALID;
    }
    if (!close->period || cdof_period_parse(close->period, &p, err, errlen) < 0)
        return CDOF_EINVALID;
    if (!close->by || !*close->by) {
        snprintf(err, errlen, "closing a period needs the name of the person (--by NAME)");
        return CDOF_EINVALID;
    }
    if (!close->reason || !*close->reason) {
        snprintf(err, errlen, "closing a period needs a reason (--reason TEXT)");
        return CDOF_EINVALID;
    }
    /* Closing judges every area's alerts: a key acting for the metric's team in one region may
     * not (hub_party_covers with no region holds only for a key without one). */
    if (!hub_party_covers(party, m->team, NULL)) {
        snprintf(err, errlen,
                 "key '%s' may not close %s's periods: that takes a key acting for team %s in "
                 "every region (or jcdu)",
                 party->id, m->id, m->team);
        return -EACCES;
    }
    int rc = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        cdof_store_txn_t *txn = NULL;
        hub_settle_begin(hub);
        hub_touch_t t = {.metric = m, .period = p};
        rc = cdof_store_begin(hub->store, true, &txn);
        if (rc == 0)
            rc = hub_period_close(hub, txn, m, &p, close->by, party ? party->id : "", close->reason,
                                  err, errlen);
        if (rc == 0)
            rc = judge_completed(hub, txn, &t, 1, true);
        if (rc == 0)
            rc = cdof_store_commit(&txn);
        cdof_store_abort(&txn);
        if (rc < 0)
            hub_settle_discard(hub);
        if (rc != CDOF_EMAPFULL)
            break;
    }
    if (rc < 0)
        return rc;
    hub->counters.comparisons++;
    cdof_store_txn_t *txn = NULL;
    if ((rc = cdof_store_begin(hub->store, false, &txn)) == 0)
        rc = hub_period_status(hub, txn, m, &p, true, out);
    cdof_store_abort(&txn);
    return rc;
}

/* --- opening --- */

int hub_settle_open(hub_t *hub)
{
    hub_settle_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int rc = cdof_store_db(hub->store, "alert_settle", &s->db);
    if (rc < 0) {
        free(s);
        return rc;
    }
    hub->settle = s;
    return 0;
}

void hub_settle_close(hub_t *hub)
{
    hub_settle_t *s = hub->settle;
    if (!s)
        return;
    free(s->completed);
    hub_findings_free(&s->findings);
    free(s);
    hub->settle = NULL;
}
