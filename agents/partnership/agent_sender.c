#include "agent_sender.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "cdof_clock.h"
#include "cdof_error.h"
#include "cdof_grow.h"
#include "cdof_link.h"
#include "cdof_log.h"
#include "cdof_zmq.h"
#include "cdof_wire.h"

#define SILENT_INTERVALS  3     /* heartbeat intervals without a word: the hub is dead */
#define BACKOFF_CAP_MS    30000 /* resend back-off stops growing here */
#define PRUNE_EVERY_MS    (10 * 60 * 1000)
#define PUMP_MAX_STEPS    10000 /* per call; the tick pumps again */
#define SOCKET_HWM        10000
#define RECONNECT_IVL_MAX 2000 /* ms: ZeroMQ's own reconnect back-off under our socket */
#define SETTLE_MAX        CDOF_WIRE_MAX_ACKS
#define REFILL_PARTS      4 /* a backlog is sent once a quarter of the window is free */
#define CONTACT_SAVE_MS   30000
#define STALE_SLACK_MS    50 /* added to twice the round trip when judging resend requests */
#define RTT_INITIAL_MS    100
#define BACKLOG_INTERVALS 30 /* heartbeat intervals: an older backlog is reported, that often */

typedef struct {
    uint64_t seq;
    int64_t deadline; /* monotonic ms: resend when passed */
    uint32_t attempts;
    bool live;
} flight_t;

struct agent_sender {
    uv_loop_t *loop;
    void *zctx, *sock;
    uv_poll_t *poll; /* per socket; freed in its close callback */
    uv_timer_t tick;
    uv_timer_t settle_timer; /* one-shot: records acks settle_delay_ms after the first */
    bool tick_init, closed, settle_armed;
    agent_outbox_t *ob;
    char *endpoint, *agent_id;
    long window, hb_ms, ack_timeout_ms, retain_ms, settle_delay_ms;
    const cdof_curve_t *curve; /* borrowed: keys for every socket this sender opens */

    bool ready;      /* the hub answered since the socket opened */
    bool ever_ready; /* for the log: first contact or a return */
    bool hb_pending; /* a heartbeat is due but the socket would block */
    int64_t opened_at, last_heard, next_hb, next_prune;
    unsigned silent_reopens;
    cdof_link_t *link;            /* the socket's monitor: handshake refusals */
    cdof_link_state_t link_known; /* the refusal last logged and saved for `status` */
    int64_t contact_saved;        /* when last_contact_ms was last written to meta (monotonic) */

    uint64_t next_send;    /* lowest sequence not yet sent on this connection */
    uint64_t rewound_to;   /* the last resend_from obeyed on this connection */
    size_t stale_left;     /* answers to copies sent before it that may still come */
    int64_t stale_until;   /* ... until then (monotonic ms) */
    uint64_t written_high; /* highest sequence in the outbox, as last read */
    int64_t rtt_ms;        /* smoothed heartbeat round trip, hub commit included */
    int64_t hb_sent_at;    /* monotonic ms of the heartbeat awaiting its ack, 0 if none */
    int64_t next_backlog;  /* monotonic ms of the next look at the outbox's backlog */
    int64_t backlog_said;  /* ... and of the last report of it, 0 if none */

    /* Sequences in flight, ascending; settled ones become holes until the head passes them. */
    flight_t *fl;
    size_t fl_cap, fl_head, fl_tail, fl_live;

    bool draining;
    int64_t drain_deadline;
    void (*drain_done)(void *arg);
    void *drain_arg;

    uint64_t rng;
    agent_settle_t settle[SETTLE_MAX];
    size_t n_settle; /* acknowledgements received, not yet recorded */
    uint64_t acks_recorded, settle_commits;
    uint8_t buf[CDOF_WIRE_MAX_MESSAGE];
};

static void link_save(agent_sender_t *s, cdof_link_state_t ls);

/* --- in-flight set ------------------------------------------------------------------------- */

static int fl_push(agent_sender_t *s, uint64_t seq, int64_t deadline)
{
    if (s->fl_tail == s->fl_cap) {
        /* Compact first; grow only when the live entries fill the array. */
        size_t n = 0;
        for (size_t i = s->fl_head; i < s->fl_tail; i++) {
            if (s->fl[i].live)
                s->fl[n++] = s->fl[i];
        }
        s->fl_head = 0;
        s->fl_tail = n;
        flight_t *fl = cdof_grow(s->fl, n, &s->fl_cap, 64, sizeof *fl);
        if (!fl)
            return -ENOMEM;
        s->fl = fl;
    }
    s->fl[s->fl_tail++] = (flight_t){seq, deadline, 1, true};
    s->fl_live++;
    return 0;
}

static void fl_advance(agent_sender_t *s)
{
    while (s->fl_head < s->fl_tail && !s->fl[s->fl_head].live)
        s->fl_head++;
    if (s->fl_head == s->fl_tail)
        s->fl_head = s->fl_tail = 0;
}

static void fl_kill(agent_sender_t *s, size_t i)
{
    if (s->fl[i].live) {
        s->fl[i].live = false;
        s->fl_live--;
    }
}

/* Binary search; returns the index or SIZE_MAX. */
static size_t fl_find(agent_sender_t *s, uint64_t seq)
{
    if (s->fl_head < s->fl_tail && s->fl[s->fl_head].seq == seq)
        return s->fl_head; /* acks come in sequence: most are for the head */
    size_t lo = s->fl_head, hi = s->fl_tail;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->fl[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->fl_tail && s->fl[lo].seq == seq ? lo : SIZE_MAX;
}

static void fl_remove(agent_sender_t *s, uint64_t seq)
{
    size_t i = fl_find(s, seq);
    if (i != SIZE_MAX) {
        fl_kill(s, i);
        fl_advance(s);
    }
}

static void fl_remove_upto(agent_sender_t *s, uint64_t high)
{
    for (size_t i = s->fl_head; i < s->fl_tail && s->fl[i].seq <= high; i++)
        fl_kill(s, i);
    fl_advance(s);
}

static void fl_remove_from(agent_sender_t *s, uint64_t low)
{
    while (s->fl_tail > s->fl_head && s->fl[s->fl_tail - 1].seq >= low)
        fl_kill(s, --s->fl_tail);
    fl_advance(s);
}

static void fl_clear(agent_sender_t *s)
{
    s->fl_head = s->fl_tail = s->fl_live = 0;
}

/* --- helpers ------------------------------------------------------------------------------- */

static void flush_settle(agent_sender_t *s);

static uint64_t rng_next(agent_sender_t *s)
{
    /* xorshift64: jitter only, nothing secret. */
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

/* Time-out before the given attempt: doubling from the ack time-out, jittered by +-25%, capped. */
static int64_t backoff_ms(agent_sender_t *s, uint32_t attempt)
{
    int64_t cap = s->ack_timeout_ms > BACKOFF_CAP_MS ? s->ack_timeout_ms : BACKOFF_CAP_MS;
    int64_t t = s->ack_timeout_ms;
    for (uint32_t i = 1; i < attempt && t < cap; i++)
        t *= 2;
    if (attempt > 1)
        t = t * (75 + (int64_t)(rng_next(s) % 51)) / 100;
    return t < cap ? t : cap;
}

static void refresh_written(agent_sender_t *s)
{
    agent_outbox_stats_t st;
    if (agent_outbox_stats(s->ob, &st) == 0)
        s->written_high = st.next_seq - 1;
}

/* Sends one frame without blocking: 1 sent, 0 would block, < 0 error. */
static int send_frame(agent_sender_t *s, const void *data, size_t len)
{
    int rc = cdof_zmq_send(s->sock, data, len, ZMQ_DONTWAIT); /* a signal does not fail it */
    if (rc == 0)
        return 1;
    if (rc == -EAGAIN)
        return 0;
    cdof_log_warn("sending to %s: %s", s->endpoint, zmq_strerror(-rc));
    return rc;
}

static int send_heartbeat(agent_sender_t *s)
{
    /* The depth reported leaves out what the hub has acknowledged: record that first (once a
     * heartbeat interval, cheap). */
    flush_settle(s);
    agent_outbox_stats_t st;
    memset(&st, 0, sizeof st);
    (void)agent_outbox_stats(s->ob, &st);
    int64_t now = cdof_clock_now_ms();
    Cdof__V1__Heartbeat hb = CDOF__V1__HEARTBEAT__INIT;
    hb.outbox_depth = st.depth;
    hb.oldest_unacked_ms =
        st.depth && now > st.oldest_written_ms ? (uint64_t)(now - st.oldest_written_ms) : 0;
    hb.high_water = st.next_seq - 1;
    Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
    env.agent_id = s->agent_id;
    env.sequence = 0;
    env.sent_ms = now;
    env.body_case = CDOF__V1__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    size_t n = cdof__v1__envelope__pack(&env, s->buf);
    int rc = send_frame(s, s->buf, n);
    s->hb_pending = rc == 0;
    if (rc > 0 && !s->hb_sent_at)
        s->hb_sent_at = cdof_clock_mono_ms();
    return rc;
}

/* --- sending entries ----------------------------------------------------------------------- */

typedef struct {
    agent_sender_t *s;
    uint64_t want; /* resend: the one sequence wanted; 0 when sending new entries */
    size_t budget, sent;
    bool blocked, found;
    int64_t sent_ms;  /* wall clock for the envelopes: read once a pass, not once an entry */
    int64_t deadline; /* monotonic: when entries sent in this pass are due again */
} send_ctx_t;

static int send_visit(void *ctx, uint64_t seq, const uint8_t *value, size_t len)
{
    send_ctx_t *c = ctx;
    agent_sender_t *s = c->s;
    if (c->want && seq != c->want)
        return 1; /* settled meanwhile */
    c->found = true;
    long n = agent_outbox_wire(value, len, s->agent_id, c->sent_ms, s->buf, sizeof s->buf);
    if (n < 0) {
        cdof_log_error("outbox entry %llu cannot be sent: %s", (unsigned long long)seq,
                       cdof_strerror((int)n));
        return (int)n;
    }
    int rc = send_frame(s, s->buf, (size_t)n);
    if (rc <= 0) {
        c->blocked = true;
        return rc < 0 ? rc : 1;
    }
    c->sent++;
    if (c->want)
        return 1;
    if (fl_push(s, seq, c->deadline) < 0)
        return -ENOMEM;
    s->next_send = seq + 1;
    return --c->budget ? 0 : 1;
}

/* Sends new entries while the window allows. Returns how many were sent. */
static size_t send_more(agent_sender_t *s)
{
    if (!s->ready || s->draining || s->closed || s->next_send > s->written_high ||
        s->fl_live >= (size_t)s->window)
        return 0;
    /* Each pass costs a read transaction and a scan of the outbox. With more waiting than the
     * window has room for, refill it in steps of a quarter rather than a few entries per ack
     * message; what fits is sent at once. */
    size_t room = (size_t)s->window - s->fl_live;
    size_t step = (size_t)s->window / REFILL_PARTS;
    if (room < step && s->written_high + 1 - s->next_send > room)
        return 0;
    send_ctx_t c = {.s = s,
                    .budget = room,
                    .sent_ms = cdof_clock_now_ms(),
                    .deadline = cdof_clock_mono_ms() + backoff_ms(s, 1)};
    int rc = agent_outbox_each_from(s->ob, s->next_send, send_visit, &c);
    if (rc < 0 && rc != -EAGAIN)
        cdof_log_error("reading the outbox: %s", cdof_strerror(rc));
    else if (!c.blocked && c.budget > 0)
        s->next_send = s->written_high + 1; /* the scan saw every entry there is */
    return c.sent;
}

static void resend_due(agent_sender_t *s, int64_t now)
{
    for (size_t i = s->fl_head; i < s->fl_tail; i++) {
        flight_t *f = &s->fl[i];
        if (!f->live || f->deadline > now)
            continue;
        send_ctx_t c = {.s = s, .want = f->seq, .budget = 1, .sent_ms = cdof_clock_now_ms()};
        (void)agent_outbox_each_from(s->ob, f->seq, send_visit, &c);
        if (!c.found) {
            fl_kill(s, i); /* settled by other means */
            continue;
        }
        if (c.blocked)
            break; /* the tick tries again */
        f->attempts++;
        f->deadline = now + backoff_ms(s, f->attempts);
        cdof_log_debug("resent seq %llu (attempt %u)", (unsigned long long)f->seq, f->attempts);
    }
    fl_advance(s);
}

/* --- acknowledgements ---------------------------------------------------------------------- */

/* Entries at or below the hub's high-water mark are settled. */
static void apply_high_water(agent_sender_t *s, uint64_t high)
{
    uint64_t n = 0;
    int rc = agent_outbox_settle_upto(s->ob, high, cdof_clock_now_ms(), &n);
    if (rc < 0) {
        cdof_log_error("settling up to seq %llu: %s", (unsigned long long)high, cdof_strerror(rc));
        return;
    }
    if (n)
        cdof_log_debug("hub high-water %llu settled %llu entries", (unsigned long long)high,
                       (unsigned long long)n);
    fl_remove_upto(s, high);
    if (s->next_send <= high)
        s->next_send = high + 1;
}

/* A heartbeat ack carries the hub's committed high-water mark H for this agent. Entries at or
 * below it are settled. Two marks mean something was replaced: above what this outbox ever wrote
 * (the data directory was replaced), or below what the hub acknowledged before (the hub was
 * restored from a backup). */
static void on_hub_mark(agent_sender_t *s, uint64_t high)
{
    agent_outbox_stats_t st;
    if (agent_outbox_stats(s->ob, &st) < 0)
        return;
    uint64_t written = st.next_seq - 1;
    if (high > written) {
        /* Entries numbered at or below H would be taken for duplicates and lost. */
        uint64_t n = 0;
        int rc = agent_outbox_renumber(s->ob, high, &n);
        cdof_log_error("hub has committed seq %llu from this agent but this outbox has written "
                       "only up to %llu (was the data directory replaced?): numbering from %llu "
                       "(%llu unsent entries renumbered)%s%s",
                       (unsigned long long)high, (unsigned long long)written,
                       (unsigned long long)high + 1, (unsigned long long)n, rc < 0 ? ": " : "",
                       rc < 0 ? cdof_strerror(rc) : "");
        if (rc < 0)
            return; /* settling up to H now would bury the unsent entries: the next mark retries */
        refresh_written(s);
        fl_clear(s);
        s->next_send = high + 1;
    } else if (high < st.acked_high) {
        uint64_t n = 0;
        int rc = agent_outbox_restore_from(s->ob, high + 1, &n);
        if (rc < 0)
            cdof_log_error("restoring retained entries from seq %llu: %s",
                           (unsigned long long)high + 1, cdof_strerror(rc));
        if (n) {
            cdof_log_warn("hub's high-water mark %llu is below the %llu it acknowledged before "
                          "(hub restored from a backup?): resending %llu retained entries",
                          (unsigned long long)high, (unsigned long long)st.acked_high,
                          (unsigned long long)n);
            fl_remove_from(s, high + 1);
            s->next_send = high + 1;
        }
    }
    apply_high_water(s, high);
}

static void on_first_contact(agent_sender_t *s, const Cdof__V1__Ack *ack)
{
    agent_outbox_stats_t st;
    memset(&st, 0, sizeof st);
    (void)agent_outbox_stats(s->ob, &st);
    if (s->ever_ready)
        cdof_log_info("hub %s answers again (committed up to seq %llu)", s->endpoint,
                      (unsigned long long)ack->high_water);
    else
        cdof_log_info("connected to hub %s (committed up to seq %llu; outbox %llu entries)",
                      s->endpoint, (unsigned long long)ack->high_water,
                      (unsigned long long)st.depth);
    s->ever_ready = true;
    if (ack->heartbeat) {
        on_hub_mark(s, ack->high_water);
        s->next_send = ack->high_water + 1;
    }
}

/* The hub answers every envelope past a gap with the same request. After obeying one, the answers
 * to the copies that were in flight before it keep coming for about a round trip: those are
 * stale. Ignoring a live one by mistake costs an ack time-out, no more. */
static bool resend_is_stale(agent_sender_t *s, const Cdof__V1__Ack *ack, int64_t now)
{
    uint64_t from = ack->resend_from;
    if (ack->high_water >= from)
        return true; /* the hub says it has it */
    if (s->next_send == from && fl_find(s, from) == SIZE_MAX)
        return true; /* obeyed already and not yet sent again */
    if (from == s->rewound_to && s->stale_left > 0 && now < s->stale_until) {
        s->stale_left--;
        return true;
    }
    return false;
}

static void on_resend_from(agent_sender_t *s, uint64_t from)
{
    cdof_log_info("hub asks to resend from seq %llu", (unsigned long long)from);
    if (from > 1)
        apply_high_water(s, from - 1);
    uint64_t restored = 0;
    int rc = agent_outbox_restore_from(s->ob, from, &restored);
    if (rc < 0)
        cdof_log_error("restoring retained entries from seq %llu: %s", (unsigned long long)from,
                       cdof_strerror(rc));
    else if (restored)
        cdof_log_info("resending %llu retained entries from seq %llu", (unsigned long long)restored,
                      (unsigned long long)from);
    agent_outbox_stats_t st;
    if (agent_outbox_stats(s->ob, &st) == 0 && from <= st.next_seq - 1 &&
        (st.depth == 0 || st.oldest_seq > from))
        cdof_log_error("hub wants seq %llu but this agent no longer keeps it (oldest kept: "
                       "%llu): the hub cannot store later entries until it is given them",
                       (unsigned long long)from, (unsigned long long)st.oldest_seq);
    /* Copies in flight past the gap each draw the same request once more. */
    size_t later = 0;
    for (size_t i = s->fl_head; i < s->fl_tail; i++)
        later += s->fl[i].live && s->fl[i].seq > from;
    int64_t window = 2 * s->rtt_ms + STALE_SLACK_MS;
    s->rewound_to = from;
    s->stale_left = later;
    s->stale_until =
        cdof_clock_mono_ms() + (window < s->ack_timeout_ms ? window : s->ack_timeout_ms);
    fl_remove_from(s, from);
    s->next_send = from;
}

/* Records the acknowledgements gathered so far in one write transaction. The hub committed
 * what it acknowledged, so the record may wait (up to settle_delay_ms or SETTLE_MAX entries): one
 * fsync for many ack messages rather than one each. A crash before the record only makes the
 * agent send those entries again, and the hub answers DUPLICATE. The window was freed when the
 * acks arrived. */
static void flush_settle(agent_sender_t *s)
{
    if (s->settle_armed) {
        uv_timer_stop(&s->settle_timer);
        s->settle_armed = false;
    }
    if (!s->n_settle)
        return;
    int rc = agent_outbox_settle(s->ob, s->settle, s->n_settle, cdof_clock_now_ms());
    if (rc < 0) {
        /* Still in the outbox but no longer in flight: send them again; the hub answers
         * DUPLICATE (or REJECTED again) and the next record may succeed. */
        uint64_t low = UINT64_MAX;
        for (size_t i = 0; i < s->n_settle; i++)
            low = s->settle[i].seq < low ? s->settle[i].seq : low;
        cdof_log_error("recording %zu acknowledgements: %s (sending again from seq %llu)",
                       s->n_settle, cdof_strerror(rc), (unsigned long long)low);
        if (low < s->next_send) {
            fl_remove_from(s, low);
            s->next_send = low;
        }
    } else {
        s->settle_commits++;
        s->acks_recorded += s->n_settle;
    }
    s->n_settle = 0;
}

static void on_settle_timer(uv_timer_t *t)
{
    agent_sender_t *s = t->data;
    s->settle_armed = false;
    flush_settle(s);
}

/* Queues one settlement and frees its place in the window at once. */
static void settle_later(agent_sender_t *s, uint64_t seq, bool rejected, const char *reason)
{
    if (s->n_settle == SETTLE_MAX)
        flush_settle(s);
    s->settle[s->n_settle++] = (agent_settle_t){seq, rejected, reason};
    fl_remove(s, seq);
    if (!s->settle_armed && s->tick_init && !s->closed) {
        uv_timer_start(&s->settle_timer, on_settle_timer, (uint64_t)s->settle_delay_ms, 0);
        s->settle_armed = true;
    }
}

static void handle_ack(agent_sender_t *s, const void *data, size_t len)
{
    char err[256];
    Cdof__V1__Ack *ack = cdof_wire_ack_decode(data, len, err, sizeof err);
    if (!ack) {
        cdof_log_warn("ignoring an undecodable reply from the hub: %s", err);
        return;
    }
    if (ack->heartbeat && s->hb_sent_at) {
        int64_t sample = cdof_clock_mono_ms() - s->hb_sent_at;
        s->rtt_ms = (7 * s->rtt_ms + sample) / 8;
        s->hb_sent_at = 0;
    }
    /* A heartbeat's mark is applied after this ack's entries: it covers them too, and applied
     * first it would settle a REJECTED entry as accepted and lose its reason. */
    bool mark = s->ready && ack->heartbeat;
    if (!s->ready) {
        s->ready = true;
        flush_settle(s);
        on_first_contact(s, ack);
    }
    bool rejected = false;
    for (size_t i = 0; i < ack->n_entries; i++) {
        const Cdof__V1__AckEntry *e = ack->entries[i];
        switch (e->status) {
        case CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED:
        case CDOF__V1__ACK_STATUS__ACK_STATUS_DUPLICATE:
            settle_later(s, e->sequence, false, NULL);
            break;
        case CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED:
            cdof_log_warn("hub rejected seq %llu: %s", (unsigned long long)e->sequence,
                          e->reason && *e->reason ? e->reason : "(no reason given)");
            settle_later(s, e->sequence, true, e->reason);
            rejected = true;
            break;
        default:
            cdof_log_warn("ignoring an ack for seq %llu with no status",
                          (unsigned long long)e->sequence);
            break;
        }
    }
    /* Reasons point into ack: record rejections before it is freed. */
    if (rejected || ack->resend_from || mark)
        flush_settle(s);
    if (mark)
        on_hub_mark(s, ack->high_water);
    if (ack->resend_from) {
        if (resend_is_stale(s, ack, cdof_clock_mono_ms()))
            cdof_log_debug("ignoring a stale request to resend from seq %llu",
                           (unsigned long long)ack->resend_from);
        else
            on_resend_from(s, ack->resend_from);
    }
    cdof__v1__ack__free_unpacked(ack, NULL);
}

static void recv_one(agent_sender_t *s)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, s->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return;
    }
    s->last_heard = cdof_clock_mono_ms();
    s->silent_reopens = 0;
    if (s->link_known != CDOF_LINK_UP) { /* once per start, and after a refusal */
        if (s->link_known != CDOF_LINK_UNKNOWN)
            cdof_log_info("hub %s admits this key again", s->endpoint);
        link_save(s, CDOF_LINK_UP);
    }
    if (!s->contact_saved || s->last_heard - s->contact_saved >= CONTACT_SAVE_MS) {
        /* For `status`; not on every heartbeat, each write costs an fsync. */
        char ms[32];
        snprintf(ms, sizeof ms, "%lld", (long long)cdof_clock_now_ms());
        if (agent_outbox_meta_set(s->ob, "last_contact_ms", ms) == 0)
            s->contact_saved = s->last_heard;
    }
    bool more = zmq_msg_more(&msg);
    if (!more)
        handle_ack(s, zmq_msg_data(&msg), zmq_msg_size(&msg));
    zmq_msg_close(&msg);
    if (more) {
        cdof_log_warn("ignoring a multi-frame reply from the hub");
        for (int i = 0; i < 64; i++) {
            zmq_msg_init(&msg);
            int rc = cdof_zmq_msg_recv(&msg, s->sock, ZMQ_DONTWAIT);
            more = rc == 0 && zmq_msg_more(&msg);
            zmq_msg_close(&msg);
            if (!more)
                break;
        }
    }
}

/* ZMQ_FD is edge-triggered: after every send and receive look at ZMQ_EVENTS again, until there
 * is nothing left to do. */
static void pump(agent_sender_t *s)
{
    for (int step = 0; step < PUMP_MAX_STEPS && s->sock && !s->closed; step++) {
        int ev = 0;
        size_t sz = sizeof ev;
        if (zmq_getsockopt(s->sock, ZMQ_EVENTS, &ev, &sz) < 0)
            break;
        if (ev & ZMQ_POLLIN) {
            recv_one(s);
            continue;
        }
        if (ev & ZMQ_POLLOUT) {
            if (s->hb_pending && send_heartbeat(s) > 0)
                continue;
            if (send_more(s) > 0)
                continue;
        }
        break;
    }
}

/* --- socket life --------------------------------------------------------------------------- */

static void free_poll(uv_handle_t *h)
{
    free(h);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    agent_sender_t *s = h->data;
    if (status < 0)
        cdof_log_warn("polling the hub socket: %s", uv_strerror(status));
    pump(s);
}

static void close_socket(agent_sender_t *s)
{
    if (s->poll) {
        uv_poll_stop(s->poll);
        uv_close((uv_handle_t *)s->poll, free_poll);
        s->poll = NULL;
    }
    cdof_link_close(&s->link);
    if (s->sock) {
        zmq_close(s->sock);
        s->sock = NULL;
    }
}

static int open_socket(agent_sender_t *s, char *err, size_t errlen)
{
    int hwm = SOCKET_HWM, linger = 0, ivl_max = RECONNECT_IVL_MAX;
    int64_t maxmsg = CDOF_WIRE_MAX_MESSAGE;
    s->sock = zmq_socket(s->zctx, ZMQ_DEALER);
    if (!s->sock)
        goto zfail;
    /* No ZMQ_ROUTING_ID: the hub answers on the connection under the id ZeroMQ generates, which
     * another agent cannot take over; a chosen one (our agent id) could be claimed by any
     * registered key, and the hub's replies with it (PROTOCOL.md "Ingest"). */
    if (cdof_curve_apply(s->curve, s->sock, NULL) < 0 ||
        zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0 ||
        zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(s->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(s->sock, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(s->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) < 0)
        goto zfail;
    if (cdof_link_open(s->zctx, s->sock, &s->link) < 0) /* only the refusals' wording lost */
        cdof_log_debug("cannot monitor the hub socket: %s", zmq_strerror(zmq_errno()));
    if (zmq_connect(s->sock, s->endpoint) < 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", s->endpoint, zmq_strerror(errno));
        goto fail;
    }
    int fd;
    size_t sz = sizeof fd;
    if (zmq_getsockopt(s->sock, ZMQ_FD, &fd, &sz) < 0)
        goto zfail;
    s->poll = malloc(sizeof *s->poll);
    if (!s->poll) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    int rc = uv_poll_init(s->loop, s->poll, fd);
    if (rc < 0) {
        free(s->poll);
        s->poll = NULL;
        snprintf(err, errlen, "cannot poll the hub socket: %s", uv_strerror(rc));
        goto fail;
    }
    s->poll->data = s;
    uv_poll_start(s->poll, UV_READABLE, on_poll);

    int64_t now = cdof_clock_mono_ms();
    s->opened_at = now;
    s->ready = false;
    fl_clear(s);
    s->next_send = 0;
    s->hb_sent_at = 0;
    s->rewound_to = 0;
    s->stale_left = 0;
    /* The first message on every connection is a heartbeat. */
    s->hb_pending = true;
    s->next_hb = now + s->hb_ms;
    pump(s);
    return 0;
zfail:
    snprintf(err, errlen, "hub socket: %s", zmq_strerror(errno));
fail:
    close_socket(s);
    return -EIO;
}

/* Records the link's state for `status` (outbox meta "hub_link": a cdof_link_name and when). */
static void link_save(agent_sender_t *s, cdof_link_state_t ls)
{
    char v[64];
    snprintf(v, sizeof v, "%s %lld", cdof_link_name(ls), (long long)cdof_clock_now_ms());
    if (agent_outbox_meta_set(s->ob, "hub_link", v) == 0)
        s->link_known = ls;
}

static void reopen(agent_sender_t *s, int64_t quiet)
{
    agent_outbox_stats_t st;
    memset(&st, 0, sizeof st);
    (void)agent_outbox_stats(s->ob, &st);
    s->silent_reopens++;
    cdof_link_state_t ls = cdof_link_poll(s->link);
    bool refused = ls == CDOF_LINK_REFUSED || ls == CDOF_LINK_WRONG_HUB_KEY;
    if (refused && ls != s->link_known) {
        /* Said once per change, and kept for `cdof-agent status`: a local authority operator
         * sees why nothing is acknowledged without reading the hub's log. */
        cdof_log_error("hub %s: %s (outbox %llu entries; retrying)", s->endpoint,
                       cdof_link_describe(ls), (unsigned long long)st.depth);
        link_save(s, ls);
    } else if (refused && s->silent_reopens % 20 == 0)
        cdof_log_error("hub %s still refuses: %s", s->endpoint, cdof_link_describe(ls));
    else if (refused)
        cdof_log_debug("reconnecting to hub %s", s->endpoint);
    else if (s->silent_reopens == 1)
        cdof_log_warn("no word from hub %s for %lld ms: reconnecting (outbox %llu entries)",
                      s->endpoint, (long long)quiet, (unsigned long long)st.depth);
    else if (s->silent_reopens % 20 == 0)
        cdof_log_warn("still no word from hub %s (outbox %llu entries)", s->endpoint,
                      (unsigned long long)st.depth);
    else
        cdof_log_debug("reconnecting to hub %s", s->endpoint);
    flush_settle(s);
    close_socket(s);
    char err[256];
    if (open_socket(s, err, sizeof err) < 0) {
        cdof_log_error("%s (trying again)", err);
        s->opened_at = cdof_clock_mono_ms();
    }
}

static void finish_drain(agent_sender_t *s)
{
    void (*done)(void *) = s->drain_done;
    s->drain_done = NULL;
    if (done)
        done(s->drain_arg);
}

/* An outbox that grows because the hub does not take it is never trimmed: it is reported, so
 * that an operator hears of it before the national figures miss a partnership. */
static void report_backlog(agent_sender_t *s, int64_t now)
{
    int64_t every = BACKLOG_INTERVALS * s->hb_ms;
    if (now < s->next_backlog || (s->backlog_said && now - s->backlog_said < every))
        return;
    s->next_backlog = now + s->hb_ms; /* a look costs a read transaction: once an interval */
    agent_outbox_stats_t st;
    if (agent_outbox_stats(s->ob, &st) < 0 || st.depth == 0)
        return;
    int64_t age = cdof_clock_now_ms() - st.oldest_written_ms;
    if (age < every)
        return;
    s->backlog_said = now;
    cdof_log_warn("outbox holds %llu entries, the oldest unacknowledged for %lld s (hub %s %s): "
                  "all are kept until the hub acknowledges them",
                  (unsigned long long)st.depth, (long long)(age / 1000), s->endpoint,
                  s->ready ? "connected but behind" : "not answering");
}

static void on_tick(uv_timer_t *t)
{
    agent_sender_t *s = t->data;
    if (s->closed)
        return;
    int64_t now = cdof_clock_mono_ms();
    if (s->draining) {
        pump(s);
        if (s->fl_live == 0 || now >= s->drain_deadline) {
            flush_settle(s);
            if (s->fl_live)
                cdof_log_warn("stopping with %zu envelopes unacknowledged (they stay in the "
                              "outbox)",
                              s->fl_live);
            finish_drain(s);
        }
        return;
    }
    /* Read what already waits before judging the hub silent: on a starved machine this timer
     * can run before the poll callback, and acks queued on the socket are word from the hub
     * (judged without them, the agent reopened and resent everything in flight). */
    pump(s);
    if (s->closed)
        return;
    int64_t heard = s->last_heard > s->opened_at ? s->last_heard : s->opened_at;
    if (now - heard >= SILENT_INTERVALS * s->hb_ms) {
        reopen(s, now - heard);
        return;
    }
    if (now >= s->next_hb) {
        s->hb_pending = true;
        s->next_hb = now + s->hb_ms;
    }
    if (s->ready)
        resend_due(s, now);
    report_backlog(s, now);
    if (now >= s->next_prune) {
        s->next_prune = now + PRUNE_EVERY_MS;
        uint64_t n = 0;
        int rc = agent_outbox_prune(s->ob, cdof_clock_now_ms() - s->retain_ms, &n);
        if (rc < 0)
            cdof_log_error("pruning settled entries: %s", cdof_strerror(rc));
        else if (n)
            cdof_log_info("dropped %llu settled entries past their retention",
                          (unsigned long long)n);
    }
    pump(s);
}

/* --- public -------------------------------------------------------------------------------- */

static long tick_ms(long hb_ms)
{
    long t = hb_ms / 4;
    return t < 10 ? 10 : t > 250 ? 250 : t;
}

int agent_sender_new(uv_loop_t *loop, void *zctx, agent_outbox_t *ob,
                     const agent_sender_opts_t *opts, agent_sender_t **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    agent_sender_t *s = calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    s->loop = loop;
    s->zctx = zctx;
    s->ob = ob;
    s->endpoint = strdup(opts->endpoint);
    s->curve = opts->curve;
    s->agent_id = strdup(opts->agent_id);
    if (!s->endpoint || !s->agent_id)
        goto nomem;
    s->window = opts->window;
    s->hb_ms = opts->heartbeat_ms;
    s->ack_timeout_ms = opts->ack_timeout_ms;
    s->retain_ms = opts->retain_ms;
    s->settle_delay_ms =
        opts->settle_delay_ms > 0 ? opts->settle_delay_ms : AGENT_SENDER_SETTLE_DELAY_MS;
    s->rtt_ms = RTT_INITIAL_MS;
    s->rng = (uint64_t)cdof_clock_now_ms() * 6364136223846793005ull ^ (uint64_t)getpid();
    if (!s->rng)
        s->rng = 1;
    *out = s;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    agent_sender_destroy(&s);
    return -ENOMEM;
}

int agent_sender_start(agent_sender_t *s, char *err, size_t errlen)
{
    refresh_written(s);
    s->next_prune = cdof_clock_mono_ms();
    int rc = uv_timer_init(s->loop, &s->tick);
    if (rc < 0) {
        snprintf(err, errlen, "timer: %s", uv_strerror(rc));
        return rc;
    }
    rc = uv_timer_init(s->loop, &s->settle_timer);
    if (rc < 0) {
        uv_close((uv_handle_t *)&s->tick, NULL);
        snprintf(err, errlen, "timer: %s", uv_strerror(rc));
        return rc;
    }
    s->tick_init = true;
    s->tick.data = s;
    s->settle_timer.data = s;
    if (open_socket(s, err, errlen) < 0)
        return -EIO;
    long t = tick_ms(s->hb_ms);
    return uv_timer_start(&s->tick, on_tick, (uint64_t)t, (uint64_t)t);
}

void agent_sender_kick(agent_sender_t *s)
{
    if (!s || s->closed)
        return;
    refresh_written(s);
    pump(s);
}

void agent_sender_tune(agent_sender_t *s, long window, long heartbeat_ms, long ack_timeout_ms)
{
    s->window = window;
    s->ack_timeout_ms = ack_timeout_ms;
    if (heartbeat_ms != s->hb_ms) {
        s->hb_ms = heartbeat_ms;
        long t = tick_ms(heartbeat_ms);
        if (s->tick_init && !s->closed)
            uv_timer_start(&s->tick, on_tick, (uint64_t)t, (uint64_t)t);
    }
    pump(s);
}

void agent_sender_drain(agent_sender_t *s, long timeout_ms, void (*done)(void *arg), void *arg)
{
    s->draining = true;
    s->drain_deadline = cdof_clock_mono_ms() + timeout_ms;
    s->drain_done = done;
    s->drain_arg = arg;
    if (!s->ready || s->fl_live == 0 || s->closed) {
        flush_settle(s);
        finish_drain(s);
    }
}

void agent_sender_close(agent_sender_t *s)
{
    if (!s || s->closed)
        return;
    flush_settle(s); /* the outbox is still open: the caller closes it after the sender */
    s->closed = true;
    close_socket(s);
    if (s->tick_init) {
        uv_close((uv_handle_t *)&s->tick, NULL);
        uv_close((uv_handle_t *)&s->settle_timer, NULL);
    }
}

void agent_sender_stats(const agent_sender_t *s, agent_sender_stats_t *st)
{
    st->in_flight = s->fl_live;
    st->unrecorded = s->n_settle;
    st->acks_recorded = s->acks_recorded;
    st->settle_commits = s->settle_commits;
    st->connected = s->ready;
}

void agent_sender_destroy(agent_sender_t **sp)
{
    if (!sp || !*sp)
        return;
    agent_sender_t *s = *sp;
    free(s->fl);
    free(s->endpoint);
    free(s->agent_id);
    free(s);
    *sp = NULL;
}
