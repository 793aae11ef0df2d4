/* Periods (DESIGN.md "Period model"): the period index (hub_db's `periods`: which periods each
 * metric has) and the period states over it. Each metric-period of the metric's own reporting
 * kind is open, complete or closed by a person, stored with the data that changed it so a
 * restarted hub keeps them, and every change is kept as a history record.
 *
 * Index key:   metric id | NUL | period (hub_period_key)  -> empty
 * State key:   metric id | NUL | period (hub_period_key)  -> PeriodStatus (packed)
 * History key: state key | record number u32 BE            -> PeriodStatus with event set */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_clock.h"
#include "cdof_coverage.h"
#include "cdof_error.h"
#include "cdof_grow.h"
#include "cdof_log.h"
#include "cdof_partnerships.h"
#include "cdof_wire.h"
#include "hub_db.h"
#include "hub_periods.h"
#include "hub_results.h"

/* ---- the period index ---- */

int hub_periods_note(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p)
{
    uint8_t key[HUB_PERIOD_KEY_MAX]; /* metric ids are at most 63 bytes (cdof_ref) */
    size_t klen = hub_period_key(m, p, key);
    /* Mostly there already: a read leaves the page clean, where a put would copy it into the
     * commit. */
    cdof_bytes_t v;
    int rc = cdof_store_get(txn, hub_db_periods(hub->db), key, klen, &v);
    return rc == CDOF_ENOTFOUND ? cdof_store_put(txn, hub_db_periods(hub->db), key, klen, "", 0)
                                : rc;
}

int hub_periods_list(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m, cdof_period_t **out,
                     size_t *n)
{
    cdof_period_t *items = NULL;
    size_t count = 0, cap = 0, plen = strlen(m->id) + 1;
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t key;
    int rc = cdof_store_cursor_open(txn, hub_db_periods(hub->db), &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_prefix(c, m->id, plen, &key, NULL); rc > 0;
         rc = cdof_store_cursor_next(c, &key, NULL)) {
        if (key.len != plen + HUB_PERIOD_KEY_LEN) {
            rc = CDOF_ECORRUPT;
            break;
        }
        cdof_period_t *grown = cdof_grow(items, count, &cap, 64, sizeof *items);
        if (!grown) {
            rc = -ENOMEM;
            break;
        }
        items = grown;
        items[count++] = hub_period_from_key((const uint8_t *)key.data + plen);
    }
    cdof_store_cursor_close(&c);
    if (rc < 0) {
        free(items);
        items = NULL;
        count = 0;
    }
    *out = items;
    *n = count;
    return rc < 0 ? rc : 0;
}

/* ---- states ---- */

struct hub_periods {
    cdof_store_db_t db_state, db_history; /* period_state, period_history */
    cdof_period_policy_t *policies;       /* per metric index: threshold and deadline */
};

bool hub_period_native(const cdof_metric_t *m, cdof_period_kind_t kind)
{
    switch (m->frequency) {
    case CDOF_FREQ_MONTHLY:
        return kind == CDOF_PERIOD_MONTH;
    case CDOF_FREQ_QUARTERLY:
        return kind == CDOF_PERIOD_QUARTER;
    case CDOF_FREQ_ANNUAL:
        return kind == CDOF_PERIOD_FINANCIAL_YEAR || kind == CDOF_PERIOD_CALENDAR_YEAR;
    case CDOF_FREQ_POOLED3:
        return kind == CDOF_PERIOD_POOLED_YEARS;
    }
    return false;
}

int hub_periods_open(hub_t *hub, char *err, size_t errlen)
{
    hub_periods_close(hub); /* opened again: the policies are read anew */
    hub_periods_t *ps = calloc(1, sizeof *ps);
    if (!ps)
        return -ENOMEM;
    int rc;
    if ((rc = cdof_store_db(hub->store, "period_state", &ps->db_state)) < 0 ||
        (rc = cdof_store_db(hub->store, "period_history", &ps->db_history)) < 0) {
        snprintf(err, errlen, "%s: cannot open the period databases: %s", hub->cfg.data,
                 cdof_strerror(rc));
        free(ps);
        return rc;
    }
    size_t nm = cdof_ref_metric_count(hub->ref);
    if (!(ps->policies = calloc(nm ? nm : 1, sizeof *ps->policies))) {
        free(ps);
        return -ENOMEM;
    }
    char why[512];
    rc = cdof_coverage_policies_load(hub->ref, hub->cfg.periods, ps->policies, why, sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "--periods: %s", why);
        free(ps->policies);
        free(ps);
        return rc;
    }
    hub->periods = ps;
    return 0;
}

void hub_periods_close(hub_t *hub)
{
    if (!hub->periods)
        return;
    free(hub->periods->policies);
    free(hub->periods);
    hub->periods = NULL;
}

/* ---- coverage from the stored points ---- */

int hub_period_reported(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                        const cdof_period_t *p, bool *reported)
{
    memset(reported, 0, cdof_ref_area_count(hub->ref) * sizeof *reported);
    hub_db_points_cursor_t *c = NULL;
    hub_point_t *pt = malloc(sizeof *pt);
    const char *code;
    int rc = pt ? hub_db_points_open(hub->db, txn, m->id, p, &c) : -ENOMEM;
    for (rc = rc < 0 ? rc : hub_db_points_next(c, &code, pt); rc > 0;
         rc = hub_db_points_next(c, &code, pt)) {
        const cdof_area_t *a = cdof_ref_area(hub->ref, code);
        if (a)
            reported[a->index] = true;
    }
    hub_db_points_close(&c);
    free(pt);
    return rc < 0 ? rc : 0;
}

/* England's coverage of (m, p) from the points. */
static int england_coverage(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                            const cdof_period_t *p, uint32_t *reported, uint32_t *expected)
{
    size_t na = cdof_ref_area_count(hub->ref);
    bool *seen = calloc(na ? na : 1, sizeof *seen);
    if (!seen)
        return -ENOMEM;
    int rc = hub_period_reported(hub, txn, m, p, seen);
    *reported = *expected = 0;
    for (size_t i = 0; rc == 0 && i < na; i++) {
        const cdof_area_t *a = cdof_ref_area_at(hub->ref, i);
        if (cdof_coverage_expects(m, a)) {
            (*expected)++;
            *reported += seen[i];
        }
    }
    free(seen);
    return rc;
}

/* ---- stored states ---- */

static int state_load(hub_t *hub, cdof_store_txn_t *txn, const uint8_t *key, size_t klen,
                      Cdof__V1__PeriodStatus **out)
{
    *out = NULL;
    cdof_bytes_t v;
    int rc = cdof_store_get(txn, hub->periods->db_state, key, klen, &v);
    if (rc < 0)
        return rc;
    if (!(*out = cdof__v1__period_status__unpack(NULL, v.len, v.data)))
        return CDOF_ECORRUPT;
    return 0;
}

static int put_packed(cdof_store_txn_t *txn, cdof_store_db_t db, const void *key, size_t klen,
                      const Cdof__V1__PeriodStatus *st)
{
    uint8_t *buf;
    size_t len;
    int rc = cdof_wire_pack(&st->base, &buf, &len);
    if (rc < 0)
        return rc;
    rc = cdof_store_put(txn, db, key, klen, buf, len);
    free(buf);
    return rc;
}

/* Stores st and, with event, a history record of it. */
static int state_save(hub_t *hub, cdof_store_txn_t *txn, const uint8_t *key, size_t klen,
                      Cdof__V1__PeriodStatus *st, const char *event)
{
    st->changed_ms = event ? cdof_clock_now_ms() : st->changed_ms;
    if (event) {
        uint8_t hk[HUB_PERIOD_KEY_MAX + 4];
        memcpy(hk, key, klen);
        cdof_store_be32(hk + klen, st->history);
        st->event = (char *)event;
        int rc = put_packed(txn, hub->periods->db_history, hk, klen + 4, st);
        st->event = NULL;
        if (rc < 0)
            return rc;
        st->history++;
    }
    return put_packed(txn, hub->periods->db_state, key, klen, st);
}

static void log_change(const cdof_metric_t *m, const cdof_period_t *p,
                       const Cdof__V1__PeriodStatus *st, const char *event)
{
    char ptext[CDOF_PERIOD_TEXT_MAX];
    cdof_period_format(p, ptext, sizeof ptext);
    cdof_log_info("period %s %s %s: %u of %u areas%s%s", m->id, ptext, event, st->reported,
                  st->expected, st->completed_by && *st->completed_by ? ", by " : "",
                  st->completed_by ? st->completed_by : "");
}

int hub_period_touch(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p, hub_period_change_t *change)
{
    *change = HUB_PERIOD_UNCHANGED;
    if (!hub_period_native(m, p->kind) || strlen(m->id) > CDOF_WIRE_MAX_ID)
        return 0;
    uint8_t key[HUB_PERIOD_KEY_MAX];
    size_t klen = hub_period_key(m, p, key);
    uint32_t reported, expected;
    int rc = england_coverage(hub, txn, m, p, &reported, &expected);
    if (rc < 0)
        return rc;
    Cdof__V1__PeriodStatus *old = NULL, st = CDOF__V1__PERIOD_STATUS__INIT;
    Cdof__V1__Period pm = CDOF__V1__PERIOD__INIT;
    rc = state_load(hub, txn, key, klen, &old);
    if (rc == CDOF_ENOTFOUND)
        rc = 0;
    if (rc < 0)
        return rc;
    if (old) {
        st = *old;
    } else {
        cdof_wire_period_to_msg(p, &pm);
        st.metric_id = (char *)m->id;
        st.period = &pm;
        st.state = CDOF__V1__PERIOD_STATE__PERIOD_STATE_OPEN;
    }
    const cdof_period_policy_t *pol = &hub->periods->policies[m->index];
    st.reported = reported;
    st.expected = expected;
    st.threshold = pol->threshold;
    st.deadline_day = cdof_coverage_deadline(pol, p);
    const char *event = old ? NULL : "opened";
    if (st.state == CDOF__V1__PERIOD_STATE__PERIOD_STATE_OPEN) {
        cdof_pdone_t why;
        if (cdof_coverage_judge(reported, expected, pol, p, cdof_clock_today(), &why) ==
            CDOF_PSTATE_COMPLETE) {
            st.state = CDOF__V1__PERIOD_STATE__PERIOD_STATE_COMPLETE;
            st.completed_by = (char *)cdof_pdone_name(why);
            event = "completed";
            *change = HUB_PERIOD_COMPLETED;
        }
    } else {
        st.revisions++;
        event = "revised";
        *change = HUB_PERIOD_REVISED;
    }
    if (event && strcmp(event, "opened") != 0)
        log_change(m, p, &st, event);
    /* A period that opens and completes in one batch keeps both records. */
    if (!old && *change == HUB_PERIOD_COMPLETED) {
        Cdof__V1__PeriodStatus first = st;
        first.state = CDOF__V1__PERIOD_STATE__PERIOD_STATE_OPEN;
        first.completed_by = NULL;
        rc = state_save(hub, txn, key, klen, &first, "opened");
        st.history = first.history;
    }
    if (rc == 0)
        rc = state_save(hub, txn, key, klen, &st, event);
    if (old)
        cdof__v1__period_status__free_unpacked(old, NULL);
    return rc;
}

int hub_period_done(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                    const cdof_period_t *p, bool *done)
{
    *done = false;
    if (!hub_period_native(m, p->kind) || strlen(m->id) > CDOF_WIRE_MAX_ID)
        return 0;
    uint8_t key[HUB_PERIOD_KEY_MAX];
    size_t klen = hub_period_key(m, p, key);
    Cdof__V1__PeriodStatus *st;
    int rc = state_load(hub, txn, key, klen, &st);
    if (rc == CDOF_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    *done = st->state == CDOF__V1__PERIOD_STATE__PERIOD_STATE_COMPLETE ||
            st->state == CDOF__V1__PERIOD_STATE__PERIOD_STATE_CLOSED;
    cdof__v1__period_status__free_unpacked(st, NULL);
    return 0;
}

int hub_period_close(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                     const cdof_period_t *p, const char *by, const char *key_id, const char *reason,
                     char *err, size_t errlen)
{
    char ptext[CDOF_PERIOD_TEXT_MAX];
    cdof_period_format(p, ptext, sizeof ptext);
    if (!hub_period_native(m, p->kind)) {
        snprintf(err, errlen, "%s is not a reporting period of %s (judged on its own periods)",
                 ptext, m->id);
        return CDOF_EINVALID;
    }
    uint8_t key[HUB_PERIOD_KEY_MAX];
    size_t klen = hub_period_key(m, p, key);
    Cdof__V1__PeriodStatus *old = NULL;
    int rc = state_load(hub, txn, key, klen, &old);
    if (rc == CDOF_ENOTFOUND) {
        snprintf(err, errlen, "%s has no data for %s: nothing to close", m->id, ptext);
        return rc;
    }
    if (rc < 0)
        return rc;
    if (old->state == CDOF__V1__PERIOD_STATE__PERIOD_STATE_CLOSED) {
        snprintf(err, errlen, "%s %s was already closed by %s", m->id, ptext,
                 old->closed_by ? old->closed_by : "-");
        cdof__v1__period_status__free_unpacked(old, NULL);
        return CDOF_EINVALID;
    }
    Cdof__V1__PeriodStatus st = *old;
    st.state = CDOF__V1__PERIOD_STATE__PERIOD_STATE_CLOSED;
    st.completed_by = (char *)cdof_pdone_name(CDOF_PDONE_PERSON);
    st.closed_by = (char *)by;
    st.closed_key = (char *)key_id;
    st.reason = (char *)reason;
    rc = state_save(hub, txn, key, klen, &st, "closed");
    if (rc == 0)
        cdof_log_info("period %s %s closed by %s (key %s) at %u of %u areas: %s", m->id, ptext, by,
                      *key_id ? key_id : "-", st.reported, st.expected, reason);
    cdof__v1__period_status__free_unpacked(old, NULL);
    return rc;
}

/* ---- deadlines ---- */

typedef struct {
    hub_touch_t *due;
    size_t n, cap;
} due_list_t;

/* Adds the period of state k -> v to dc when it is open and its stored counts (those of its last
 * data) complete it by today: only such a period is recounted. */
static int due_add(hub_t *hub, int32_t today, const cdof_bytes_t *k, const cdof_bytes_t *v,
                   due_list_t *dc)
{
    const uint8_t *nul = memchr(k->data, 0, k->len);
    if (!nul || k->len != (size_t)(nul - (const uint8_t *)k->data) + 1 + HUB_PERIOD_KEY_LEN)
        return CDOF_ECORRUPT;
    Cdof__V1__PeriodStatus *st = cdof__v1__period_status__unpack(NULL, v->len, v->data);
    if (!st)
        return CDOF_ECORRUPT;
    bool open = st->state == CDOF__V1__PERIOD_STATE__PERIOD_STATE_OPEN;
    uint32_t reported = st->reported, expected = st->expected;
    cdof__v1__period_status__free_unpacked(st, NULL);
    const cdof_metric_t *m = cdof_ref_metric(hub->ref, (const char *)k->data);
    if (!open || !m)
        return 0;
    cdof_period_t p = hub_period_from_key(nul + 1);
    cdof_pdone_t why;
    if (cdof_coverage_judge(reported, expected, &hub->periods->policies[m->index], &p, today,
                            &why) != CDOF_PSTATE_COMPLETE)
        return 0;
    hub_touch_t *d = cdof_grow(dc->due, dc->n, &dc->cap, 16, sizeof *d);
    if (!d)
        return -ENOMEM;
    dc->due = d;
    dc->due[dc->n++] = (hub_touch_t){.metric = m, .period = p};
    return 0;
}

int hub_period_deadlines(hub_t *hub, cdof_store_txn_t *txn, hub_touch_t **completed, size_t *n)
{
    due_list_t dc = {0};
    int32_t today = cdof_clock_today();
    *completed = NULL;
    *n = 0;
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t k, v;
    int rc = cdof_store_cursor_open(txn, hub->periods->db_state, &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_seek(c, NULL, 0, &k, &v); rc > 0;
         rc = cdof_store_cursor_next(c, &k, &v))
        if ((rc = due_add(hub, today, &k, &v, &dc)) < 0)
            break;
    cdof_store_cursor_close(&c);
    size_t done = 0;
    for (size_t i = 0; rc == 0 && i < dc.n; i++) {
        hub_period_change_t ch;
        rc = hub_period_touch(hub, txn, dc.due[i].metric, &dc.due[i].period, &ch);
        if (rc == 0 && ch == HUB_PERIOD_COMPLETED)
            dc.due[done++] = dc.due[i];
    }
    if (rc < 0 || done == 0) {
        free(dc.due);
        return rc;
    }
    *completed = dc.due;
    *n = done;
    return 0;
}

/* ---- stores from before period states ---- */

int hub_periods_adopt(hub_t *hub, uint64_t *made)
{
    *made = 0;
    cdof_store_txn_t *txn = NULL;
    uint64_t states = 0, periods = 0;
    int rc = cdof_store_begin(hub->store, true, &txn);
    if (rc == 0)
        rc = cdof_store_count(txn, hub->periods->db_state, &states);
    if (rc == 0)
        rc = cdof_store_count(txn, hub_db_periods(hub->db), &periods);
    for (size_t i = 0; rc == 0 && states == 0 && periods > 0 && i < cdof_ref_metric_count(hub->ref);
         i++) {
        const cdof_metric_t *m = cdof_ref_metric_at(hub->ref, i);
        cdof_period_t *list = NULL;
        size_t n = 0;
        rc = hub_periods_list(hub, txn, m, &list, &n);
        for (size_t k = 0; rc == 0 && k < n; k++) {
            hub_period_change_t ch;
            if (!hub_period_native(m, list[k].kind))
                continue;
            rc = hub_period_touch(hub, txn, m, &list[k], &ch);
            (*made)++;
        }
        free(list);
    }
    if (rc == 0 && *made)
        rc = cdof_store_commit(&txn);
    cdof_store_abort(&txn);
    return rc;
}

/* ---- queries ---- */

/* Fills the groups (England, regions, partnerships with expected areas) of st, each with its
 * missing areas (freed by hub_period_status_free; the strings are the hub's). */
static int add_groups(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                      const cdof_period_t *p, Cdof__V1__PeriodStatus *st)
{
    size_t na = cdof_ref_area_count(hub->ref);
    bool *seen = calloc(na ? na : 1, sizeof *seen);
    if (!seen)
        return -ENOMEM;
    cdof_coverage_t cov = {0};
    int rc = hub_period_reported(hub, txn, m, p, seen);
    if (rc == 0) {
        const cdof_partnership_t *parts = hub_results_partnership_at(hub, 0);
        rc = cdof_coverage_compute(hub->ref, m, parts, hub_results_partnership_count(hub), seen,
                                   &cov);
    }
    if (rc == 0 && !(st->groups = calloc(cov.ngroups ? cov.ngroups : 1, sizeof *st->groups)))
        rc = -ENOMEM;
    for (size_t g = 0; rc == 0 && g < cov.ngroups; g++) {
        const cdof_coverage_group_t *cg = &cov.groups[g];
        if (!cg->expected)
            continue;
        Cdof__V1__CoverageGroup *out = malloc(sizeof *out);
        if (out)
            cdof__v1__coverage_group__init(out);
        if (!out || !(out->missing = calloc(cg->expected, sizeof(char *)))) {
            free(out);
            rc = -ENOMEM;
            break;
        }
        st->groups[st->n_groups++] = out;
        out->code = (char *)cg->area->code;
        out->name = (char *)(cg->area->name ? cg->area->name : cg->area->code);
        out->reported = cg->reported;
        out->expected = cg->expected;
    }
    /* The missing areas of each group, in reference order. */
    for (size_t i = 0; rc == 0 && i < na; i++) {
        const cdof_area_t *a = cdof_ref_area_at(hub->ref, i);
        if (seen[i] || !cdof_coverage_expects(m, a))
            continue;
        for (size_t g = 0; g < st->n_groups; g++) {
            Cdof__V1__CoverageGroup *out = st->groups[g];
            const cdof_area_t *ga = hub_results_area(hub, out->code);
            bool in = !ga || ga->kind == CDOF_AREA_ENGLAND ||
                      (ga->kind == CDOF_AREA_REGION &&
                       (!strcmp(a->code, ga->code) ||
                        (a->region_code && !strcmp(a->region_code, ga->code))));
            for (size_t k = 0; !in && ga && ga->kind == CDOF_AREA_PARTNERSHIP &&
                               k < hub_results_partnership_count(hub);
                 k++) {
                const cdof_partnership_t *pt = hub_results_partnership_at(hub, k);
                if (strcmp(pt->area.code, ga->code) != 0)
                    continue;
                for (size_t j = 0; j < pt->nmembers; j++)
                    in = in || pt->members[j] == a;
            }
            if (in && out->n_missing < out->expected)
                out->missing[out->n_missing++] = (char *)a->code;
        }
    }
    cdof_coverage_free(&cov);
    free(seen);
    return rc;
}

void hub_period_status_free(Cdof__V1__PeriodStatus *st)
{
    if (!st)
        return;
    for (size_t g = 0; g < st->n_groups; g++) {
        st->groups[g]->code = st->groups[g]->name = NULL; /* owned by the hub */
        free(st->groups[g]->missing);
        st->groups[g]->missing = NULL;
        st->groups[g]->n_missing = 0;
        free(st->groups[g]);
    }
    free(st->groups);
    st->groups = NULL;
    st->n_groups = 0;
    cdof__v1__period_status__free_unpacked(st, NULL);
}

int hub_period_status(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                      const cdof_period_t *p, bool groups, Cdof__V1__PeriodStatus **out)
{
    uint8_t key[HUB_PERIOD_KEY_MAX];
    size_t klen = hub_period_key(m, p, key);
    int rc = state_load(hub, txn, key, klen, out);
    if (rc == 0 && groups && (rc = add_groups(hub, txn, m, p, *out)) < 0) {
        hub_period_status_free(*out);
        *out = NULL;
    }
    return rc;
}

int hub_period_history(hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                       const cdof_period_t *p, Cdof__V1__PeriodStatus ***out, size_t *n)
{
    uint8_t key[HUB_PERIOD_KEY_MAX];
    size_t klen = hub_period_key(m, p, key);
    Cdof__V1__PeriodStatus **items = NULL;
    size_t count = 0, cap = 0;
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t v;
    int rc = cdof_store_cursor_open(txn, hub->periods->db_history, &c);
    for (rc = rc < 0 ? rc : cdof_store_cursor_prefix(c, key, klen, NULL, &v); rc > 0;
         rc = cdof_store_cursor_next(c, NULL, &v)) {
        Cdof__V1__PeriodStatus **grown = cdof_grow(items, count, &cap, 8, sizeof *items);
        if (!grown) {
            rc = -ENOMEM;
            break;
        }
        items = grown;
        if (!(items[count] = cdof__v1__period_status__unpack(NULL, v.len, v.data))) {
            rc = CDOF_ECORRUPT;
            break;
        }
        count++;
    }
    cdof_store_cursor_close(&c);
    if (rc < 0) {
        for (size_t i = 0; i < count; i++)
            cdof__v1__period_status__free_unpacked(items[i], NULL);
        free(items);
        return rc;
    }
    *out = items;
    *n = count;
    return 0;
}
