/* Health counters for `cdof-query health` (issue 9): what the hub has done since it started,
 * and which agents are connected, judged as the agents judge the hub: by recent contact. */
#include "hub.h"

#include "cdof_clock.h"

typedef struct {
    int64_t now;
    uint32_t known, connected;
} count_ctx_t;

static int count_agent(void *ctx, const cdof_agent_record_t *rec)
{
    count_ctx_t *c = ctx;
    c->known++;
    if (c->now - rec->last_heard_ms <= HUB_CONNECTED_MS)
        c->connected++;
    return 0;
}

int hub_health_fill(hub_t *hub, cdof_store_txn_t *txn, Cdof__V1__Health *out)
{
    /* last_heard_ms is written with each batch, so a busy or idle agent stays fresh. */
    count_ctx_t c = {.now = cdof_clock_now_ms()};
    uint64_t pending = 0;
    int rc = cdof_points_agent_scan(hub->pts, txn, count_agent, &c);
    if (rc == 0)
        rc = cdof_store_count(txn, hub->db_settle, &pending); /* periods awaiting alert rules */
    if (rc < 0)
        return rc;
    out->pending_comparisons = pending;
    const hub_counters_t *k = &hub->counters;
    out->ingested = k->ingested;
    out->duplicates = k->duplicates;
    out->rejected = k->rejected;
    out->commits = k->commits;
    out->batch_last = k->batch_last;
    out->batch_max = k->batch_max;
    out->batch_mean = k->batches ? (double)k->batched / (double)k->batches : 0;
    out->comparisons = k->comparisons;
    out->alerts = k->alerts;
    out->connected_agents = c.connected;
    out->known_agents = c.known;
    out->heartbeats = k->heartbeats;
    out->out_of_order = k->out_of_order;
    out->started_ms = hub->started_ms;
    out->connected_window_ms = HUB_CONNECTED_MS;
    out->next_alert_sequence = hub->next_alert_seq;
    out->queries_refused = hub_query_refused(hub);
    out->subscriptions_refused = hub_subs_refused(hub);
    return 0;
}
