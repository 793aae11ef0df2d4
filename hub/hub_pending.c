/* Deferred comparisons: see hub.h. Coalescing and a time budget are the point: under a flood from
 * 150 agents the same metric-periods are touched batch after batch and each comparison reads and
 * judges every area; comparing each once per round, in bounded slices, keeps ingest at the speed
 * of the store. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_clock.h"
#include "cdof_error.h"
#include "cdof_log.h"
#include "hub.h"

#define KEY_MAX sizeof(((hub_t *)0)->pending_cursor)
#define CHUNK   32 /* marks read per scan; compared one by one within the budget */

int hub_pending_open(hub_t *hub)
{
    int rc = cdof_store_db(hub->store, "pending_compare", &hub->db_pending);
    cdof_store_txn_t *txn = NULL;
    uint64_t n = 0;
    if (rc == 0 && (rc = cdof_store_begin(hub->store, false, &txn)) == 0) {
        rc = hub_pending_count(hub, txn, &n);
        cdof_store_abort(&txn);
    }
    if (rc == 0 && n > 0) {
        /* Left by a hub that stopped before comparing them: due now. */
        hub->pending_since = cdof_clock_mono_ms() - HUB_DEFER_MS;
        cdof_log_info("%llu comparison(s) pending from before the restart", (unsigned long long)n);
    }
    return rc;
}

int hub_pending_count(hub_t *hub, cdof_store_txn_t *txn, uint64_t *out)
{
    return cdof_store_count(txn, hub->db_pending, out);
}

long hub_pending_wait_ms(const hub_t *hub)
{
    if (!hub->pending_since)
        return -1;
    int64_t left = hub->pending_since + HUB_DEFER_MS - cdof_clock_mono_ms();
    return left > 0 ? (long)left : 0;
}

bool hub_pending_due(const hub_t *hub, size_t n)
{
    return n < HUB_DEFER_MIN_BATCH || hub_pending_wait_ms(hub) == 0;
}

int hub_pending_add(hub_t *hub, cdof_store_txn_t *txn, const hub_touch_t *t, size_t n)
{
    uint8_t key[KEY_MAX];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t klen = hub_period_key(t[i].metric, &t[i].period, key);
        rc = cdof_store_put(txn, hub->db_pending, key, klen, "", 0);
    }
    return rc;
}

/* Metric, then older periods first: a later period's verdict is the one alerts keep. */
static int touch_order(const void *a, const void *b)
{
    const hub_touch_t *x = a, *y = b;
    if (x->metric->index != y->metric->index)
        return x->metric->index < y->metric->index ? -1 : 1;
    if (x->period.first_day != y->period.first_day)
        return x->period.first_day < y->period.first_day ? -1 : 1;
    if (x->period.kind != y->period.kind)
        return x->period.kind < y->period.kind ? -1 : 1;
    return (x->period.last_day > y->period.last_day) - (x->period.last_day < y->period.last_day);
}

typedef struct {
    uint8_t key[CHUNK][KEY_MAX];
    size_t len[CHUNK], n;
    const uint8_t *skip; /* the cursor itself: the scan starts at it, inclusive */
    size_t skip_len;
} chunk_t;

static int take_key(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    (void)val;
    chunk_t *c = ctx;
    if (c->skip && key->len == c->skip_len && memcmp(key->data, c->skip, c->skip_len) == 0)
        return 0;
    if (key->len > KEY_MAX)
        return CDOF_ECORRUPT;
    memcpy(c->key[c->n], key->data, key->len);
    c->len[c->n] = key->len;
    return ++c->n == CHUNK ? 1 : 0;
}

/* Compares the metric-period of one mark (a metric since removed from the catalogue has nothing
 * left to compare) and deletes the mark. */
static int compare_mark(hub_t *hub, cdof_store_txn_t *txn, const uint8_t *key, size_t len)
{
    size_t idlen = strnlen((const char *)key, len);
    int rc = 0;
    if (idlen < len && len == idlen + 10) {
        const cdof_metric_t *m = cdof_ref_metric(hub->ref, (const char *)key);
        cdof_period_t p = hub_period_from_key(key, len);
        if (m) {
            rc = hub_alerts_evaluate(hub, txn, m, &p);
            hub->counters.comparisons++;
        }
    }
    return rc < 0 ? rc : cdof_store_del(txn, hub->db_pending, key, len);
}

/* Pending marks after the cursor, wrapping round once, until the budget is spent. */
static int compare_pending(hub_t *hub, cdof_store_txn_t *txn, int64_t deadline)
{
    static chunk_t c;
    bool wrapped = false;
    hub->pending_left = false;
    for (;;) {
        c.n = 0;
        c.skip = hub->pending_cursor_len ? hub->pending_cursor : NULL;
        c.skip_len = hub->pending_cursor_len;
        int rc = cdof_store_scan(txn, hub->db_pending, c.skip, c.skip_len, NULL, 0, take_key, &c);
        if (rc < 0)
            return rc;
        if (c.n == 0) {
            if (wrapped || !hub->pending_cursor_len)
                return 0; /* all compared */
            hub->pending_cursor_len = 0;
            wrapped = true;
            continue;
        }
        for (size_t i = 0; i < c.n; i++) {
            if (cdof_clock_mono_ms() >= deadline) {
                hub->pending_left = true;
                return 0;
            }
            int rc2 = compare_mark(hub, txn, c.key[i], c.len[i]);
            if (rc2 < 0 && rc2 != CDOF_ENOTFOUND)
                return rc2;
            memcpy(hub->pending_cursor, c.key[i], c.len[i]);
            hub->pending_cursor_len = c.len[i];
        }
    }
}

int hub_pending_evaluate(hub_t *hub, cdof_store_txn_t *txn, const hub_touch_t *t, size_t n)
{
    int64_t deadline = cdof_clock_mono_ms() + HUB_COMPARE_BUDGET_MS;
    hub_touch_t *own = n ? malloc(n * sizeof *own) : NULL;
    if (n && !own)
        return -ENOMEM;
    if (n)
        memcpy(own, t, n * sizeof *own);
    if (n > 1)
        qsort(own, n, sizeof *own, touch_order);
    /* The batch's own metric-periods, all of them: this is the light-load path. */
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = hub_alerts_evaluate(hub, txn, own[i].metric, &own[i].period);
        hub->counters.comparisons++;
        if (rc == 0 && hub->pending_since) {
            uint8_t key[KEY_MAX];
            size_t klen = hub_period_key(own[i].metric, &own[i].period, key);
            rc = cdof_store_del(txn, hub->db_pending, key, klen);
            if (rc == CDOF_ENOTFOUND)
                rc = 0;
        }
    }
    free(own);
    /* A cursor moved by a transaction that then aborts only changes where the next round
     * starts: the marks it passed are still there. */
    if (rc == 0 && hub->pending_since)
        rc = compare_pending(hub, txn, deadline);
    return rc;
}

void hub_pending_committed(hub_t *hub, bool evaluated, size_t n, bool quiet)
{
    if (evaluated && hub->pending_since) {
        if (!hub->pending_left) {
            hub->pending_since = 0;
            hub->pending_cursor_len = 0;
        } else {
            /* Under load what is left waits a round, so that ingest keeps most of the time; a
             * quiet hub goes straight on. */
            hub->pending_since = cdof_clock_mono_ms() - (quiet ? HUB_DEFER_MS : 0);
        }
    } else if (!evaluated && n > 0 && !hub->pending_since) {
        hub->pending_since = cdof_clock_mono_ms();
    }
}
