/* Ingest's batch (hub_ingest.h): what agents sent, applied in one write transaction and
 * acknowledged only after the commit returns. PROTOCOL.md "Ingest" is the contract this
 * implements; hub_ingest_net.c reads the socket and sends the acknowledgements. */
#define _GNU_SOURCE /* hcreate_r: the batch's agents by id */
#include <errno.h>
#include <search.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_clock.h"
#include "cdof_error.h"
#include "cdof_log.h"
#include "cdof_validate.h"
#include "cdof_wire.h"
#include "hub.h"
#include "hub_db.h"
#include "hub_ingest.h"
#include "hub_keys.h"
#include "hub_periods.h"
#include "hub_results.h"
#include "hub_settle.h"

#define ACK_CHUNK 48 /* entries per Ack: 48 reasons of 1 KiB stay under the 64 KiB limit */
/* A sequence this far past an agent's mark is a broken or hostile agent, not lost messages:
 * rejected, the mark stays. No partnership sends a hundred million updates. */
#define HUB_MAX_SEQ_JUMP 100000000ULL

typedef struct {
    uint8_t rid[256];
    size_t rid_len;
    Cdof__V1__Envelope *env;
    char bad[CDOF_WIRE_MAX_TEXT]; /* non-empty: decodable enough to answer, but to be rejected */
    const hub_party_t *party;     /* the sender, from its CURVE key; NULL with --insecure */
    size_t slot;                  /* its agent in hub_batch_t.slots */
} msg_t;

/* One agent of the batch: found once per envelope by id (hash), not by scanning the others. */
typedef struct {
    char agent_id[HUB_DB_AGENT_MAX];
    uint8_t rid[256]; /* the connection of its latest envelope: the acks go there */
    size_t rid_len;
    size_t taken; /* envelopes taken into the batch (HUB_MAX_UNACKED_PER_AGENT) */
    hub_agent_record_t rec;
    bool heartbeat;
    uint64_t resend_from;
    size_t nentries, first, last; /* its ack entries, a list through hub_batch_t.entry_next */
} slot_t;

struct hub_batch {
    msg_t msgs[HUB_BATCH_MAX];
    size_t nmsgs;
    slot_t slots[HUB_BATCH_MAX];
    size_t nslots;
    struct hsearch_data by_id; /* agent id -> slot; rebuilt for every batch */
    bool by_id_made, by_id_fresh;
    hub_touch_t touched[HUB_BATCH_MAX];
    size_t ntouched;
    Cdof__V1__AckEntry entry_pool[HUB_BATCH_MAX];
    size_t entry_next[HUB_BATCH_MAX]; /* the next entry of the same slot */
    char reason_pool[HUB_BATCH_MAX][CDOF_WIRE_MAX_TEXT];
    size_t npool;
    cdof_wire_arena_t *arena; /* the batch's envelopes, freed when it is done */
    /* Each metric's store code as its first point in the transaction found it (0: not yet),
     * by cdof_metric_t.index: cleared at every begin, never kept across an abort. */
    uint16_t *codes;
};

/* Copies src into dst[size], cut to fit as snprintf's "%s" would, without the formatting. */
static void copy_text(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The slot of agent_id (found, or added) in *out. Returns 0 or -ENOMEM. */
static int slot_of(hub_batch_t *b, const char *agent_id, slot_t **out)
{
    ENTRY e = {.key = (char *)agent_id}, *found = NULL;
    if (hsearch_r(e, FIND, &found, &b->by_id) && found) {
        *out = found->data;
        return 0;
    }
    slot_t *s = &b->slots[b->nslots];
    memset(s, 0, offsetof(slot_t, rec));
    copy_text(s->agent_id, sizeof s->agent_id, agent_id);
    e = (ENTRY){.key = s->agent_id, .data = s};
    if (!hsearch_r(e, ENTER, &found, &b->by_id))
        return -ENOMEM;
    b->nslots++;
    *out = s;
    return 0;
}

/* Loads the agent's record (a fresh one for an agent never seen) and empties what the last
 * attempt at the batch left in the slot. */
static int slot_load(hub_t *hub, cdof_store_txn_t *txn, slot_t *s)
{
    s->heartbeat = false;
    s->resend_from = 0;
    s->nentries = 0;
    int rc = hub_db_agent_get(hub->db, txn, s->agent_id, &s->rec);
    if (rc == CDOF_ENOTFOUND) {
        memset(&s->rec, 0, sizeof s->rec);
        copy_text(s->rec.agent_id, sizeof s->rec.agent_id, s->agent_id);
        rc = 0;
    }
    return rc;
}

static void add_entry(hub_batch_t *b, slot_t *s, uint64_t seq, Cdof__V1__AckStatus status,
                      const char *reason)
{
    size_t k = b->npool++;
    Cdof__V1__AckEntry *e = &b->entry_pool[k];
    cdof__v1__ack_entry__init(e);
    e->sequence = seq;
    e->status = status;
    if (reason && reason[0]) {
        copy_text(b->reason_pool[k], CDOF_WIRE_MAX_TEXT, reason);
        e->reason = b->reason_pool[k];
    }
    if (s->nentries++ == 0)
        s->first = k;
    else
        b->entry_next[s->last] = k;
    s->last = k;
}

/* Records that the batch touched metric m in period p; true the first time. */
static bool touch(hub_batch_t *b, const cdof_metric_t *m, const cdof_period_t *p)
{
    /* Newest first: an agent sends area after area of one metric-period, so a repeat is
     * mostly among the last few touched, and a batch can touch hundreds. */
    for (size_t i = b->ntouched; i-- > 0;) {
        if (b->touched[i].metric == m && b->touched[i].period.kind == p->kind &&
            b->touched[i].period.first_day == p->first_day &&
            b->touched[i].period.last_day == p->last_day)
            return false;
    }
    b->touched[b->ntouched++] = (hub_touch_t){.metric = m, .period = *p};
    return true;
}

static int store_milestone(hub_t *hub, cdof_store_txn_t *txn, const Cdof__V1__MilestoneEvent *ev)
{
    uint8_t key[HUB_MILESTONE_KEY_MAX];
    size_t klen = hub_milestone_key(ev->partnership, ev->milestone_id, ev->date, true, key);
    if (!klen)
        return -EINVAL;
    uint8_t *buf;
    size_t len;
    int rc = cdof_wire_pack(&ev->base, &buf, &len);
    if (rc < 0)
        return rc;
    rc = cdof_store_put(txn, hub_db_milestones(hub->db), key, klen, buf, len);
    free(buf);
    return rc;
}

/* Rejections are kept by agent and sequence (hub_db.h) so a resent rejected envelope is answered
 * the same way, and `rejections` can say whose and when. */
static int rejection_put(hub_t *hub, cdof_store_txn_t *txn, const char *agent, uint64_t seq,
                         const char *reason, int64_t now, const char *partnership)
{
    uint8_t key[HUB_REJECTION_KEY_MAX], val[HUB_REJECTION_VALUE_MAX];
    size_t klen = hub_rejection_key(agent, seq, key);
    if (!klen)
        return -EINVAL;
    size_t vlen = hub_rejection_value(reason, now, partnership, val);
    return cdof_store_put(txn, hub_db_rejections(hub->db), key, klen, val, vlen);
}

static int rejection_get(hub_t *hub, cdof_store_txn_t *txn, const char *agent, uint64_t seq,
                         char *reason, size_t len)
{
    uint8_t key[HUB_REJECTION_KEY_MAX];
    size_t klen = hub_rejection_key(agent, seq, key);
    if (!klen)
        return CDOF_ENOTFOUND;
    cdof_bytes_t v;
    int rc = cdof_store_get(txn, hub_db_rejections(hub->db), key, klen, &v);
    if (rc == 0)
        snprintf(reason, len, "%.*s",
                 (int)strnlen((const char *)v.data, v.len < len ? v.len : len - 1),
                 (const char *)v.data);
    return rc;
}

/* Applies one envelope to the open transaction and records its ack entry. */
static int apply(hub_t *hub, hub_batch_t *b, cdof_store_txn_t *txn, const msg_t *m, int64_t now)
{
    int rc = 0;
    slot_t *s = &b->slots[m->slot];
    const Cdof__V1__Envelope *env = m->env;
    s->rec.last_heard_ms = now;
    if (env->body_case == CDOF__V1__ENVELOPE__BODY_HEARTBEAT) {
        s->heartbeat = true;
        s->rec.outbox_depth = env->heartbeat->outbox_depth;
        s->rec.oldest_unacked_ms = env->heartbeat->oldest_unacked_ms;
        /* An idle agent that has written more than this hub holds (a hub restored from an
         * older backup) is asked for the rest; a busy one is already sending it. */
        if (env->heartbeat->outbox_depth == 0 && env->heartbeat->high_water > s->rec.high_water)
            s->resend_from = s->rec.high_water + 1;
        hub->counters.heartbeats++;
        return 0;
    }
    uint64_t seq = env->sequence;
    char reason[CDOF_WIRE_MAX_TEXT];
    reason[0] = '\0'; /* not the whole array: this runs for every envelope */
    if (seq <= s->rec.high_water) {
        /* A settled envelope sent again: if it was rejected, say so again, so that a lost
         * REJECTED ack never turns into "already stored". */
        int r = rejection_get(hub, txn, env->agent_id, seq, reason, sizeof reason);
        if (r < 0 && r != CDOF_ENOTFOUND)
            return r;
        if (r == 0) {
            add_entry(b, s, seq, CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED, reason);
        } else {
            add_entry(b, s, seq, CDOF__V1__ACK_STATUS__ACK_STATUS_DUPLICATE, NULL);
            hub->counters.duplicates++;
        }
        return 0;
    }
    if (seq - s->rec.high_water > HUB_MAX_SEQ_JUMP) {
        snprintf(reason, sizeof reason,
                 "sequence %llu jumps more than %llu past the hub's mark %llu",
                 (unsigned long long)seq, HUB_MAX_SEQ_JUMP, (unsigned long long)s->rec.high_water);
        cdof_log_warn("rejected %s seq %llu: %s", env->agent_id, (unsigned long long)seq, reason);
        add_entry(b, s, seq, CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED, reason);
        hub->counters.rejected++;
        return 0; /* not settled: the mark stays where it is */
    }
    if (seq > s->rec.high_water + 1) {
        s->resend_from = 1; /* set to the mark + 1 when the ack is sent */
        hub->counters.out_of_order++;
        return 0;
    }
    /* What the sender may write comes from its key's registry entry (NULL: --insecure, any). */
    const cdof_scope_t *scope = m->party ? &m->party->scope : NULL;
    const char *own_partnership =
        m->party && m->party->role == HUB_ROLE_PARTNERSHIP ? m->party->partnership : NULL;
    int verdict = 0;
    if (m->bad[0]) {
        verdict = CDOF_EINVALID;
        snprintf(reason, sizeof reason, "%s", m->bad);
    } else if (env->body_case == CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE) {
        cdof_update_t u;
        verdict = cdof_wire_update_from_msg(env->metric_update, &u, reason, sizeof reason);
        const cdof_metric_t *metric = NULL;
        if (verdict == 0)
            verdict =
                cdof_validate_update_metric(hub->ref, scope, &u, &metric, reason, sizeof reason);
        if (verdict == 0)
            verdict = cdof_validate_period_arrival(&u.period, (int32_t)(now / 86400000),
                                                   (int)hub->cfg.period_tolerance_days, reason,
                                                   sizeof reason);
        if (verdict == 0) {
            hub_point_t pt; /* every field set: an initialiser would clear the note too */
            pt.fig = u.fig;
            pt.received_ms = now;
            pt.sequence = seq;
            copy_text(pt.agent_id, sizeof pt.agent_id, env->agent_id);
            copy_text(pt.note, sizeof pt.note, env->metric_update->note);
            rc = hub_db_point_put_memo(hub->db, txn, u.metric_id, &b->codes[metric->index],
                                       u.area_code, &u.period, &pt);
            /* The period index needs one write per metric-period a batch touches. */
            if (rc == 0 && touch(b, metric, &u.period))
                rc = hub_periods_note(hub, txn, metric, &u.period);
            if (rc < 0)
                return rc;
        }
    } else if (env->body_case == CDOF__V1__ENVELOPE__BODY_MILESTONE_EVENT) {
        const Cdof__V1__MilestoneEvent *ev = env->milestone_event;
        verdict =
            cdof_validate_milestone(hub->ref, ev->milestone_id, ev->partnership, ev->date,
                                    cdof_clock_today(), own_partnership, reason, sizeof reason);
        /* A milestone is a partnership's own declaration: a national source filing one for it
         * would be hearsay nobody could check (SECURITY.md "Milestones"). */
        if (verdict == 0 && m->party && m->party->role == HUB_ROLE_NATIONAL) {
            verdict = CDOF_EINVALID;
            snprintf(reason, sizeof reason,
                     "a national key does not file milestones: partnership '%.64s' files its own",
                     ev->partnership);
        }
        if (verdict == 0 && (rc = store_milestone(hub, txn, ev)) < 0)
            return rc;
    } else {
        verdict = CDOF_EINVALID;
        snprintf(reason, sizeof reason, "envelope has no body");
    }
    /* A rejected envelope is settled too: it moves the mark so the stream goes on. */
    s->rec.high_water = seq;
    if (verdict == 0) {
        add_entry(b, s, seq, CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED, NULL);
        hub->counters.ingested++;
    } else {
        add_entry(b, s, seq, CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED, reason);
        if ((rc = rejection_put(hub, txn, env->agent_id, seq, reason, now, own_partnership)) < 0)
            return rc;
        hub->counters.rejected++;
        cdof_log_info("rejected %s seq %llu: %s", env->agent_id, (unsigned long long)seq, reason);
    }
    return 0;
}

int hub_batch_commit(hub_t *hub, hub_batch_t *b)
{
    int rc = 0;
    hub_counters_t saved = hub->counters;
    /* A full map spoils the transaction; the store grows it on the next begin, so try again. */
    for (int attempt = 0; attempt < 3; attempt++) {
        hub->counters = saved;
        hub_settle_begin(hub);
        b->ntouched = 0;
        b->npool = 0;
        memset(b->codes, 0, cdof_ref_metric_count(hub->ref) * sizeof *b->codes);
        cdof_store_txn_t *txn = NULL;
        int64_t now = cdof_clock_now_ms();
        rc = cdof_store_begin(hub->store, true, &txn);
        for (size_t i = 0; rc == 0 && i < b->nslots; i++)
            rc = slot_load(hub, txn, &b->slots[i]);
        for (size_t i = 0; rc == 0 && i < b->nmsgs; i++)
            rc = apply(hub, b, txn, &b->msgs[i], now);
        for (size_t i = 0; rc == 0 && i < b->nslots; i++)
            rc = hub_db_agent_put(hub->db, txn, &b->slots[i].rec);
        /* Cached months the batch changed are stale whether or not it commits. */
        hub_results_forget(hub, b->touched, b->ntouched);
        /* Ingest only marks what it wrote; settling compares and judges (hub_settle.h): the
         * periods this batch completed in this transaction, the rest in the tick, or here too
         * with --settle-ms 0. */
        for (size_t i = 0; rc == 0 && i < b->ntouched; i++)
            rc = hub_settle_touch(hub, txn, b->touched[i].metric, &b->touched[i].period);
        if (rc == 0)
            rc = hub_settle_ingested(hub, txn);
        if (rc == 0) {
            rc = cdof_store_commit(&txn);
        } else {
            cdof_store_abort(&txn);
        }
        if (rc < 0) {
            hub_settle_discard(hub);
            /* Comparisons read the batch's own points: none may stay cached past an abort. */
            hub_results_forget(hub, b->touched, b->ntouched);
        }
        if (rc != CDOF_EMAPFULL)
            break;
        cdof_log_warn("store map full: growing and retrying the batch");
    }
    if (rc == 0) {
        hub->counters.commits++;
        if (b->nmsgs) {
            hub->counters.batches++;
            hub->counters.batched += b->nmsgs;
            hub->counters.batch_last = b->nmsgs;
            if (b->nmsgs > hub->counters.batch_max)
                hub->counters.batch_max = b->nmsgs;
        }
    } else {
        hub->counters = saved;
    }
    cdof_store_map_info_t mi;
    if (rc == CDOF_EMAPFULL && cdof_store_map_info(hub->store, &mi) == 0)
        cdof_log_error("national store %s is full: its map is %zu MiB of at most %zu MiB and "
                       "cannot grow (limit reached or no address space); nothing is acknowledged "
                       "and agents keep their outboxes until it has room",
                       hub->cfg.data, mi.map_size >> 20, mi.max_map_size >> 20);
    return rc;
}

static void send_ack(const slot_t *s, Cdof__V1__AckEntry **entries, size_t n, bool last,
                     hub_batch_reply_fn reply, void *ctx)
{
    Cdof__V1__Ack ack = CDOF__V1__ACK__INIT;
    ack.entries = entries;
    ack.n_entries = n;
    /* An earlier chunk claims only what it carries, in case a later one is lost. */
    ack.high_water = s->rec.high_water;
    if (!last && n > 0)
        ack.high_water = entries[n - 1]->sequence;
    ack.heartbeat = last && s->heartbeat;
    ack.resend_from = last && s->resend_from ? s->rec.high_water + 1 : 0;
    reply(ctx, s->rid, s->rid_len, &ack);
}

void hub_batch_acks(hub_batch_t *b, hub_batch_reply_fn reply, void *ctx)
{
    Cdof__V1__AckEntry *chunk[ACK_CHUNK];
    for (size_t i = 0; i < b->nslots; i++) {
        const slot_t *s = &b->slots[i];
        size_t n = 0, k = s->first;
        for (size_t left = s->nentries; left > 0; left--, k = b->entry_next[k]) {
            chunk[n++] = &b->entry_pool[k];
            if (n == ACK_CHUNK && left > 1) {
                send_ack(s, chunk, n, false, reply, ctx);
                n = 0;
            }
        }
        send_ack(s, chunk, n, true, reply, ctx);
    }
}

/* --- the batch's life --- */

int hub_batch_new(const hub_t *hub, hub_batch_t **out)
{
    *out = NULL;
    hub_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    if (cdof_wire_arena_new(&b->arena) < 0 ||
        !(b->codes = calloc(cdof_ref_metric_count(hub->ref) + 1, sizeof *b->codes))) {
        hub_batch_destroy(&b);
        return -ENOMEM;
    }
    *out = b;
    return 0;
}

void hub_batch_destroy(hub_batch_t **bp)
{
    hub_batch_t *b = *bp;
    if (!b)
        return;
    if (b->by_id_made)
        hdestroy_r(&b->by_id);
    cdof_wire_arena_destroy(&b->arena);
    free(b->codes);
    free(b);
    *bp = NULL;
}

void hub_batch_clear(hub_batch_t *b)
{
    b->nmsgs = 0;
    b->nslots = 0;
    b->by_id_fresh = false;
    cdof_wire_arena_reset(b->arena);
}

cdof_wire_arena_t *hub_batch_arena(hub_batch_t *b)
{
    return b->arena;
}

size_t hub_batch_size(const hub_batch_t *b)
{
    return b->nmsgs;
}

int hub_batch_take(hub_batch_t *b, const uint8_t *rid, size_t rid_len, Cdof__V1__Envelope *env,
                   const char *bad, const hub_party_t *party)
{
    if (b->nmsgs == HUB_BATCH_MAX)
        return 1;
    if (!b->by_id_fresh) {
        /* A fresh table per batch (hsearch has no clear), made only when there is one: the
         * loop wakes for queries and timers too. At most half full: every agent of a full
         * batch, each found in a probe or two. */
        if (b->by_id_made)
            hdestroy_r(&b->by_id);
        memset(&b->by_id, 0, sizeof b->by_id);
        if (!(b->by_id_made = hcreate_r(2 * HUB_BATCH_MAX, &b->by_id)))
            return -ENOMEM;
        b->by_id_fresh = true;
    }
    slot_t *s;
    int rc = slot_of(b, env->agent_id, &s);
    if (rc < 0)
        return rc;
    if (++s->taken > HUB_MAX_UNACKED_PER_AGENT)
        return 1;
    if (rid_len > sizeof s->rid)
        rid_len = sizeof s->rid;
    msg_t *m = &b->msgs[b->nmsgs++];
    /* Field by field: clearing the texts whole would cost more than the decode. */
    m->env = env;
    m->party = party;
    m->bad[0] = '\0';
    if (bad && bad[0])
        copy_text(m->bad, sizeof m->bad, bad);
    m->rid_len = rid_len;
    memcpy(m->rid, rid, rid_len);
    memcpy(s->rid, rid, rid_len);
    s->rid_len = rid_len;
    m->slot = (size_t)(s - b->slots);
    return 0;
}
