/* Health counters for `cdof-query health`: what the hub has done since it started,
 * and which agents are connected, judged as the agents judge the hub: by recent contact. */
#include "cdof_clock.h"
#include "cdof_prom.h"
#include "hub.h"
#include "hub_alerts.h"
#include "hub_db.h"
#include "hub_health.h"
#include "hub_query.h"
#include "hub_settle.h"
#include "hub_subs.h"

int hub_health_fill(hub_t *hub, cdof_store_txn_t *txn, Cdof__V1__Health *out)
{
    /* last_heard_ms is written with each batch, so a busy or idle agent stays fresh. */
    int64_t now = cdof_clock_now_ms();
    uint32_t known = 0, connected = 0;
    uint64_t pending = 0;
    hub_db_agents_cursor_t *c = NULL;
    hub_agent_record_t rec;
    int rc = hub_db_agents_open(hub->db, txn, &c);
    for (rc = rc < 0 ? rc : hub_db_agents_next(c, &rec); rc > 0; rc = hub_db_agents_next(c, &rec)) {
        known++;
        connected += now - rec.last_heard_ms <= HUB_CONNECTED_MS;
    }
    hub_db_agents_close(&c);
    if (rc == 0)
        rc = hub_settle_count(hub, txn, &pending); /* periods awaiting alert rules */
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
    out->connected_agents = connected;
    out->known_agents = known;
    out->heartbeats = k->heartbeats;
    out->out_of_order = k->out_of_order;
    out->started_ms = hub->started_ms;
    out->connected_window_ms = HUB_CONNECTED_MS;
    out->next_alert_sequence = hub_alerts_next_sequence(hub->alerts);
    hub_query_stats_t qs;
    hub_query_stats(hub, &qs);
    out->queries_refused = qs.refused;
    out->queries_deferred = qs.deferred;
    out->query_cpu_ms = qs.cpu_ms;
    out->subscriptions_refused = hub_subs_refused(hub);
    return 0;
}

int hub_health_metrics(void *ctx, cdof_prom_t *out)
{
    hub_t *hub = ctx;
    cdof_store_txn_t *txn = NULL;
    Cdof__V1__Health h;
    cdof__v1__health__init(&h);
    int rc = cdof_store_begin(hub->store, false, &txn);
    if (rc == 0)
        rc = hub_health_fill(hub, txn, &h);
    cdof_store_abort(&txn);
    if (rc < 0)
        return rc;
    /* The names follow Prometheus' conventions: counters end in _total, times are seconds. The
     * same figures as `cdof-query health`. */
    static const struct {
        const char *name;
        cdof_prom_type_t type;
        const char *help;
    } m[] = {
        {"cdof_hub_updates_ingested_total", CDOF_PROM_COUNTER,
         "updates stored since the hub started"},
        {"cdof_hub_duplicates_total", CDOF_PROM_COUNTER,
         "updates received again and acknowledged without storing (agents resending)"},
        {"cdof_hub_rejected_total", CDOF_PROM_COUNTER,
         "updates refused (the agent keeps them with the reason)"},
        {"cdof_hub_commits_total", CDOF_PROM_COUNTER, "store transactions committed"},
        {"cdof_hub_batch_last", CDOF_PROM_GAUGE, "envelopes in the last committed batch"},
        {"cdof_hub_batch_max", CDOF_PROM_GAUGE, "envelopes in the largest committed batch"},
        {"cdof_hub_batch_mean", CDOF_PROM_GAUGE, "mean envelopes per committed batch"},
        {"cdof_hub_comparisons_total", CDOF_PROM_COUNTER,
         "metric-periods whose stored comparisons were recomputed"},
        {"cdof_hub_pending_comparisons", CDOF_PROM_GAUGE,
         "metric-periods whose alert rules wait for their data to settle"},
        {"cdof_hub_alerts_total", CDOF_PROM_COUNTER, "alert changes published"},
        {"cdof_hub_next_alert_sequence", CDOF_PROM_GAUGE, "sequence the next alert will get"},
        {"cdof_hub_heartbeats_total", CDOF_PROM_COUNTER, "agent heartbeats received"},
        {"cdof_hub_out_of_order_total", CDOF_PROM_COUNTER,
         "envelopes received out of sequence (resent by their agents)"},
        {"cdof_hub_agents_connected", CDOF_PROM_GAUGE,
         "agents heard from within the connected window"},
        {"cdof_hub_agents_known", CDOF_PROM_GAUGE, "agents the store has ever heard from"},
        {"cdof_hub_connected_window_seconds", CDOF_PROM_GAUGE,
         "an agent heard from within this many seconds counts as connected"},
        {"cdof_hub_start_time_seconds", CDOF_PROM_GAUGE,
         "when the hub started, in seconds since the Unix epoch"},
        {"cdof_hub_queries_refused_total", CDOF_PROM_COUNTER,
         "query requests refused because too many of one key's waited"},
        {"cdof_hub_queries_deferred_total", CDOF_PROM_COUNTER,
         "query requests that waited because their key had used its CPU budget"},
        {"cdof_hub_query_cpu_seconds_total", CDOF_PROM_COUNTER,
         "hub CPU time spent answering queries"},
        {"cdof_hub_subscriptions_refused_total", CDOF_PROM_COUNTER,
         "alert subscriptions refused (not an alert topic, or over a connection's cap)"},
    };
    const double v[] = {
        (double)h.ingested,
        (double)h.duplicates,
        (double)h.rejected,
        (double)h.commits,
        (double)h.batch_last,
        (double)h.batch_max,
        h.batch_mean,
        (double)h.comparisons,
        (double)h.pending_comparisons,
        (double)h.alerts,
        (double)h.next_alert_sequence,
        (double)h.heartbeats,
        (double)h.out_of_order,
        (double)h.connected_agents,
        (double)h.known_agents,
        (double)h.connected_window_ms / 1000.0,
        (double)h.started_ms / 1000.0,
        (double)h.queries_refused,
        (double)h.queries_deferred,
        (double)h.query_cpu_ms / 1000.0,
        (double)h.subscriptions_refused,
    };
    _Static_assert(sizeof m / sizeof m[0] == sizeof v / sizeof v[0], "one value per metric");
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        cdof_prom_metric(out, m[i].name, m[i].type, m[i].help, v[i]);
    return cdof_prom_error(out);
}
