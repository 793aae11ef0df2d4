#include "watch_notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdof_clock.h"

#include "cdof_error.h"
#include "cdof_log.h"
#include "cdof_client_alert.h"
#include "watch_msg.h"
#include "watch_route.h"
#include "watch_send.h"

#define MAX_ROUTES   64  /* routes one alert may take */
#define GROUP_KEY    256 /* bytes of a group key */
#define DUE_BATCH    64  /* notices looked at per delivery round */
#define NOTE_KEY_MAX 64

struct watch_notify {
    watch_queue_t *q;
    watch_notify_opts_t o;
    watch_receiver_t exec; /* the --exec receiver */
    long retry_initial_ms, retry_max_ms, expire_ms;
    int64_t *hold; /* per receiver (conf's, then exec): no attempt before this */
    size_t nrecv;
    uint64_t seed;
};

int watch_notify_new(watch_queue_t *q, const watch_notify_opts_t *opts, watch_notify_t **out)
{
    *out = NULL;
    watch_notify_t *n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    n->q = q;
    n->o = *opts;
    n->exec.name = (char *)WATCH_EXEC_RECEIVER;
    n->exec.kind = WATCH_RECV_EXEC;
    n->exec.command = (char *)opts->exec;
    n->exec.timeout_ms = opts->exec_timeout_ms;
    const watch_delivery_t *d = opts->conf ? &opts->conf->delivery : NULL;
    n->retry_initial_ms = d ? d->retry_initial_ms : WATCH_DEFAULT_RETRY_INITIAL_MS;
    n->retry_max_ms = d ? d->retry_max_ms : WATCH_DEFAULT_RETRY_MAX_MS;
    n->expire_ms = d ? d->expire_ms : WATCH_DEFAULT_EXPIRE_MS;
    n->nrecv = (opts->conf ? opts->conf->nreceivers : 0) + 1;
    if (!(n->hold = calloc(n->nrecv, sizeof *n->hold))) {
        free(n);
        return -ENOMEM;
    }
    n->seed = ((uint64_t)cdof_clock_now_ms() << 16) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ull;
    *out = n;
    return 0;
}

void watch_notify_free(watch_notify_t **n)
{
    if (!n || !*n)
        return;
    free((*n)->hold);
    free(*n);
    *n = NULL;
}

/* xorshift64*: jitter only, no need for more. A number in [0, 1). */
static double jitter(watch_notify_t *n)
{
    n->seed ^= n->seed >> 12;
    n->seed ^= n->seed << 25;
    n->seed ^= n->seed >> 27;
    return (double)((n->seed * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* --- taking an alert --- */

static int take_exec(watch_notify_t *n, cdof_store_txn_t *txn, const Cdof__V1__Alert *a,
                     int64_t now)
{
    size_t len = 0;
    char *json = watch_msg_alert_json(a, &len);
    if (!json)
        return -ENOMEM;
    char key[NOTE_KEY_MAX];
    snprintf(key, sizeof key, "alert-%" PRIu64, a->sequence);
    watch_note_t note = {.created_ms = now,
                         .next_ms = now,
                         .alert_seq = a->sequence,
                         .receiver = (char *)WATCH_EXEC_RECEIVER,
                         .key = key,
                         .subject = (char *)"",
                         .body = json,
                         .body_len = len};
    int rc = watch_queue_note_add(n->q, txn, &note, NULL, 0);
    free(json);
    return rc;
}

/* Applies a to one group of one route. */
static int take_member(watch_notify_t *n, cdof_store_txn_t *txn, const char *route,
                       const char *group, const Cdof__V1__Alert *a, int64_t now)
{
    char seqkey[32];
    const char *dedupe = a->dedupe_key && *a->dedupe_key ? a->dedupe_key : seqkey;
    snprintf(seqkey, sizeof seqkey, "#%" PRIu64,
             a->fired_sequence ? a->fired_sequence : a->sequence);
    watch_group_t g = {0};
    int rc = watch_queue_group_get(n->q, txn, route, group, &g);
    bool exists = rc == 0;
    if (rc < 0 && rc != CDOF_ENOTFOUND)
        return rc;
    uint8_t flags = 0;
    Cdof__V1__Alert *old = NULL;
    rc = exists ? watch_queue_member_get(n->q, txn, route, group, dedupe, &flags, &old)
                : CDOF_ENOTFOUND;
    bool member = rc == 0;
    if (rc < 0 && rc != CDOF_ENOTFOUND)
        return rc;
    if (old)
        cdof__v1__alert__free_unpacked(old, NULL);
    rc = 0;
    switch (a->state) {
    case CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING:
        /* A new firing (or a firing again after it resolved): told afresh, acks forgotten. */
        rc = watch_queue_member_put(n->q, txn, route, group, dedupe, 0, a);
        if (!exists)
            g.created_ms = now;
        g.changed = true;
        break;
    case CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED:
        if (!member)
            return 0; /* never told (muted, or another route's): nothing to say */
        if (flags & WATCH_MEMBER_NOTIFIED) {
            rc = watch_queue_member_put(n->q, txn, route, group, dedupe,
                                        (uint8_t)(flags | WATCH_MEMBER_RESOLVED), a);
            g.changed = true;
        } else {
            rc = watch_queue_member_del(n->q, txn, route, group, dedupe); /* fired and gone */
        }
        break;
    case CDOF__V1__ALERT_STATE__ALERT_STATE_ACKNOWLEDGED:
        if (!member || (flags & WATCH_MEMBER_RESOLVED))
            return 0;
        /* Kept, with who acknowledged it, but not repeated: not a change worth a digest. */
        rc = watch_queue_member_put(n->q, txn, route, group, dedupe,
                                    (uint8_t)(flags | WATCH_MEMBER_ACKED), a);
        break;
    default:
        return 0;
    }
    if (rc == 0)
        rc = watch_queue_group_put(n->q, txn, route, group, &g);
    return rc;
}

static int take_routes(watch_notify_t *n, cdof_store_txn_t *txn, const Cdof__V1__Alert *a,
                       int64_t now)
{
    const watch_conf_t *c = n->o.conf;
    watch_labels_t l = {{a->team, a->region_code, a->rule, cdof_client_severity_name(a->severity)}};
    size_t idx[MAX_ROUTES];
    size_t k = watch_route_match(c, &l, idx, MAX_ROUTES);
    if (k > MAX_ROUTES) {
        cdof_log_warn("alert #%" PRIu64 " matches %zu routes; only the first %d take it",
                      a->sequence, k, MAX_ROUTES);
        k = MAX_ROUTES;
    }
    int rc = 0;
    for (size_t i = 0; i < k && rc == 0; i++) {
        const watch_route_t *r = &c->routes[idx[i]];
        char group[GROUP_KEY];
        if ((rc = watch_route_group_key(r, &l, group, sizeof group)) == 0)
            rc = take_member(n, txn, r->name, group, a, now);
    }
    return rc;
}

int watch_notify_take(watch_notify_t *n, const Cdof__V1__Alert *a, int64_t now_ms)
{
    cdof_store_txn_t *txn;
    int rc = watch_queue_begin(n->q, true, &txn);
    if (rc < 0)
        return rc;
    bool muted = a->muted_by && *a->muted_by;
    if (n->o.exec && (!muted || n->o.exec_muted))
        rc = take_exec(n, txn, a, now_ms);
    /* A silence or an inhibition at the hub keeps an alert from every receiver. */
    if (rc == 0 && n->o.conf && !muted)
        rc = take_routes(n, txn, a, now_ms);
    if (rc == 0)
        rc = watch_queue_set_last_seq(n->q, txn, a->sequence);
    if (rc == 0)
        rc = cdof_store_commit(&txn);
    cdof_store_abort(&txn);
    return rc;
}

/* --- digests --- */

typedef struct {
    char *route, *group;
    watch_group_t g;
} due_group_t;

typedef struct {
    due_group_t *v;
    size_t n, cap;
} due_list_t;

static int collect_group(void *ctx, const char *route, const char *group, const watch_group_t *g)
{
    due_list_t *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        due_group_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    due_group_t *d = &l->v[l->n];
    d->route = strdup(route);
    d->group = strdup(group);
    d->g = *g;
    if (!d->route || !d->group) {
        free(d->route);
        free(d->group);
        return -ENOMEM;
    }
    l->n++;
    return 0;
}

typedef struct {
    char *dedupe;
    uint8_t flags;
    Cdof__V1__Alert *alert;
} member_t;

typedef struct {
    member_t *v;
    size_t n, cap;
} member_list_t;

static int collect_member(void *ctx, const char *dedupe, uint8_t flags, Cdof__V1__Alert *a)
{
    member_list_t *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        member_t *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            cdof__v1__alert__free_unpacked(a, NULL);
            return -ENOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n].dedupe = strdup(dedupe))) {
        cdof__v1__alert__free_unpacked(a, NULL);
        return -ENOMEM;
    }
    l->v[l->n].flags = flags;
    l->v[l->n++].alert = a;
    return 0;
}

static void members_free(member_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].dedupe);
        cdof__v1__alert__free_unpacked(l->v[i].alert, NULL);
    }
    free(l->v);
}

static int by_item(const void *pa, const void *pb)
{
    const watch_item_t *a = pa, *b = pb;
    if (a->state != b->state)
        return a->state < b->state ? -1 : 1;
    return a->alert->sequence < b->alert->sequence ? -1 : a->alert->sequence > b->alert->sequence;
}

static int find_route(const watch_conf_t *c, const char *name)
{
    for (size_t i = 0; c && i < c->nroutes; i++) {
        if (!strcmp(c->routes[i].name, name))
            return (int)i;
    }
    return -1;
}

/* Queues one group's digest (when it has anything to say) and moves its window on. */
static int flush_group(watch_notify_t *n, cdof_store_txn_t *txn, const watch_route_t *r,
                       due_group_t *d, int64_t now, int *queued)
{
    member_list_t m = {0};
    watch_item_t *items = NULL;
    char *subject = NULL, *body = NULL;
    int rc = watch_queue_each_member(n->q, txn, d->route, d->group, collect_member, &m);
    if (rc == 0 && m.n && !(items = calloc(m.n, sizeof *items)))
        rc = -ENOMEM;
    size_t k = 0;
    bool repeatable = false;
    for (size_t i = 0; rc == 0 && i < m.n; i++) {
        uint8_t f = m.v[i].flags;
        if (f & WATCH_MEMBER_RESOLVED)
            items[k++] = (watch_item_t){m.v[i].alert, WATCH_ITEM_RESOLVED};
        else if (!(f & WATCH_MEMBER_ACKED))
            items[k++] = (watch_item_t){
                m.v[i].alert, (f & WATCH_MEMBER_NOTIFIED) ? WATCH_ITEM_FIRING : WATCH_ITEM_NEW};
    }
    if (rc == 0 && k) {
        qsort(items, k, sizeof *items, by_item);
        const watch_receiver_t *recv = &n->o.conf->receivers[r->receiver];
        char key[NOTE_KEY_MAX] = "";
        watch_note_t note = {.created_ms = now, .next_ms = now, .receiver = recv->name};
        /* The key is fixed before the body that quotes it: the id the queue gives next. */
        rc = watch_queue_note_key(n->q, txn, key, sizeof key);
        watch_digest_t dg = {.key = key,
                             .receiver = recv->name,
                             .route = r->name,
                             .group = d->group,
                             .query_command = n->o.conf->delivery.query_command,
                             .items = items,
                             .n = k,
                             .ref = n->o.ref};
        if (rc == 0 && (!(subject = watch_msg_subject(&dg)) ||
                        !(body = watch_msg_body(&dg, recv->kind, &note.body_len))))
            rc = -ENOMEM;
        note.subject = subject;
        note.body = body;
        note.key = key;
        if (rc == 0)
            rc = watch_queue_note_add(n->q, txn, &note, NULL, 0);
        if (rc == 0) {
            (*queued)++;
            cdof_log_info("digest %s for route %s group %s: %zu alert%s to %s", key,
                          *r->name ? r->name : "(root)", *d->group ? d->group : "(all)", k,
                          k == 1 ? "" : "s", recv->name);
        }
    }
    /* Told firings are marked, told resolutions dropped. */
    size_t left = 0;
    for (size_t i = 0; rc == 0 && i < m.n; i++) {
        uint8_t f = m.v[i].flags;
        if (f & WATCH_MEMBER_RESOLVED) {
            rc = watch_queue_member_del(n->q, txn, d->route, d->group, m.v[i].dedupe);
            continue;
        }
        left++;
        if (!(f & WATCH_MEMBER_ACKED))
            repeatable = true;
        if (!(f & WATCH_MEMBER_NOTIFIED) && !(f & WATCH_MEMBER_ACKED))
            rc = watch_queue_member_put(n->q, txn, d->route, d->group, m.v[i].dedupe,
                                        (uint8_t)(f | WATCH_MEMBER_NOTIFIED), m.v[i].alert);
    }
    if (rc == 0 && !left) {
        rc = watch_queue_group_del(n->q, txn, d->route, d->group);
    } else if (rc == 0) {
        d->g.flushed_ms = now;
        d->g.changed = false;
        d->g.repeatable = repeatable;
        rc = watch_queue_group_put(n->q, txn, d->route, d->group, &d->g);
    }
    free(subject);
    free(body);
    free(items);
    members_free(&m);
    return rc;
}

int watch_notify_flush(watch_notify_t *n, int64_t now_ms)
{
    cdof_store_txn_t *txn;
    int rc = watch_queue_begin(n->q, true, &txn);
    if (rc < 0)
        return rc;
    due_list_t l = {0};
    int queued = 0;
    bool wrote = false; /* commit (and fsync) only when a group moved on */
    rc = watch_queue_each_group(n->q, txn, collect_group, &l);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        due_group_t *d = &l.v[i];
        int ri = find_route(n->o.conf, d->route);
        if (ri < 0) {
            cdof_log_warn("route '%s' is no longer configured: its group %s is dropped", d->route,
                          *d->group ? d->group : "(all)");
            rc = watch_queue_group_del(n->q, txn, d->route, d->group);
            wrote = true;
            continue;
        }
        const watch_route_t *r = &n->o.conf->routes[ri];
        watch_group_clock_t clk = {d->g.created_ms, d->g.flushed_ms, d->g.changed, d->g.repeatable};
        if (watch_route_next_flush(r, &clk) <= now_ms) {
            rc = flush_group(n, txn, r, d, now_ms, &queued);
            wrote = true;
        }
    }
    for (size_t i = 0; i < l.n; i++) {
        free(l.v[i].route);
        free(l.v[i].group);
    }
    free(l.v);
    if (rc == 0 && wrote)
        rc = cdof_store_commit(&txn);
    cdof_store_abort(&txn);
    return rc < 0 ? rc : queued;
}

/* --- delivery --- */

/* The receiver a notice names, and its index in hold, or NULL. */
static const watch_receiver_t *receiver_of(watch_notify_t *n, const char *name, size_t *idx)
{
    const watch_conf_t *c = n->o.conf;
    for (size_t i = 0; c && i < c->nreceivers; i++) {
        if (!strcmp(c->receivers[i].name, name)) {
            *idx = i;
            return &c->receivers[i];
        }
    }
    if (n->o.exec && !strcmp(name, WATCH_EXEC_RECEIVER)) {
        *idx = n->nrecv - 1;
        return &n->exec;
    }
    return NULL;
}

static int expire(watch_notify_t *n, const watch_note_t *note, int64_t now, const char *why)
{
    cdof_log_error("notice %s to %s expired after %" PRIu32 " attempt%s over %" PRId64
                   " s (%s); it is kept in the store's expired list: %s",
                   note->key, note->receiver, note->attempts + 1, note->attempts ? "s" : "",
                   (now - note->created_ms) / 1000, why, note->subject);
    return watch_queue_note_expire(n->q, note->id, now);
}

static int attempt(watch_notify_t *n, uint64_t id, int64_t now, volatile sig_atomic_t *stop)
{
    watch_note_t note;
    int rc = watch_queue_note_get(n->q, id, &note);
    if (rc == CDOF_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    size_t ri = 0;
    const watch_receiver_t *r = receiver_of(n, note.receiver, &ri);
    if (!r) {
        rc = expire(n, &note, now, "its receiver is no longer configured");
    } else if (n->hold[ri] <= now) {
        char err[512] = "";
        int64_t t0 = cdof_clock_mono_ms();
        int src = watch_send(r, &note, stop, err, sizeof err);
        int64_t took = cdof_clock_mono_ms() - t0;
        now = cdof_clock_now_ms();
        if (src == 0) {
            rc = watch_queue_note_done(n->q, id);
            n->hold[ri] = 0;
            cdof_log_info("delivered %s to %s (%s) on attempt %" PRIu32 " in %" PRId64 " ms",
                          note.key, r->name, watch_recv_kind_name(r->kind), note.attempts + 1,
                          took);
        } else if (stop && *stop) {
            cdof_log_warn("attempt of %s to %s cut short on the way out; it stays queued", note.key,
                          r->name);
        } else if (now - note.created_ms >= (r->expire_ms > 0 ? r->expire_ms : n->expire_ms)) {
            rc = expire(n, &note, now, err);
        } else {
            int64_t wait = watch_queue_backoff_ms(note.attempts + 1, n->retry_initial_ms,
                                                  n->retry_max_ms, jitter(n));
            n->hold[ri] = now + wait;
            rc = watch_queue_note_retry(n->q, id, now + wait);
            cdof_log_warn("%s to %s failed (attempt %" PRIu32 "): %s; next attempt in %" PRId64
                          " ms",
                          note.key, r->name, note.attempts + 1, err, wait);
        }
    }
    watch_queue_note_clear(&note);
    return rc;
}

typedef struct {
    watch_notify_t *n;
    int64_t now;
} held_t;

/* A receiver waiting out its back-off is passed over. */
static bool held(void *ctx, const char *receiver)
{
    held_t *h = ctx;
    size_t ri;
    return receiver_of(h->n, receiver, &ri) && h->n->hold[ri] > h->now;
}

int watch_notify_deliver(watch_notify_t *n, int64_t now_ms, size_t max, volatile sig_atomic_t *stop)
{
    uint64_t ids[DUE_BATCH];
    size_t k = 0;
    held_t h = {n, now_ms};
    int rc = watch_queue_due(n->q, now_ms, held, &h, ids, max < DUE_BATCH ? max : DUE_BATCH, &k);
    for (size_t i = 0; rc == 0 && i < k && !(stop && *stop); i++)
        rc = attempt(n, ids[i], now_ms, stop);
    return rc < 0 ? rc : (int)k;
}
