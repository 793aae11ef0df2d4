/* The query endpoint: one QueryRequest in, one QueryResponse out (PROTOCOL.md "Queries"). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cdof_compare.h"
#include "cdof_error.h"
#include "cdof_log.h"
#include "cdof_wire.h"
#include "hub.h"

#define MAX_ROWS 10000

typedef struct {
    Cdof__V1__QueryResponse *resp;
    Cdof__V1__ComparisonRow *rows;
    Cdof__V1__ComparisonRow **row_ptrs;
    Cdof__V1__Period *periods;
    Cdof__V1__Alert **alerts;
    Cdof__V1__AgentStatus *agents;
    Cdof__V1__AgentStatus **agent_ptrs;
    char (*agent_ids)[CDOF_POINTS_AGENT_MAX];
    size_t cap;
    char error[CDOF_WIRE_MAX_TEXT];
    Cdof__V1__Health health; /* the answer to `health` */
} reply_t;

static int reply_init(reply_t *r, Cdof__V1__QueryResponse *resp)
{
    memset(r, 0, sizeof *r);
    r->resp = resp;
    r->cap = MAX_ROWS;
    r->rows = calloc(r->cap, sizeof *r->rows);
    r->row_ptrs = calloc(r->cap, sizeof *r->row_ptrs);
    r->periods = calloc(r->cap, sizeof *r->periods);
    if (!r->rows || !r->row_ptrs || !r->periods)
        return -ENOMEM;
    resp->rows = r->row_ptrs;
    return 0;
}

static void reply_free(reply_t *r)
{
    for (size_t i = 0; r->alerts && i < r->resp->n_alerts; i++)
        cdof__v1__alert__free_unpacked(r->alerts[i], NULL);
    free(r->alerts);
    free(r->rows);
    free(r->row_ptrs);
    free(r->periods);
    free(r->agents);
    free(r->agent_ptrs);
    free(r->agent_ids);
}

static void add_row(reply_t *rp, const cdof_metric_t *m, const cdof_period_t *p,
                    const cdof_compare_row_t *c)
{
    if (rp->resp->n_rows >= rp->cap)
        return;
    size_t i = rp->resp->n_rows++;
    Cdof__V1__ComparisonRow *row = &rp->rows[i];
    cdof__v1__comparison_row__init(row);
    cdof__v1__period__init(&rp->periods[i]);
    cdof_wire_period_to_msg(p, &rp->periods[i]);
    rp->row_ptrs[i] = row;
    row->metric_id = (char *)m->id;
    row->area_code = (char *)c->area->code;
    row->area_name = (char *)c->area->name;
    row->period = &rp->periods[i];
    row->has_numerator = c->has_numerator;
    row->numerator = c->numerator;
    row->has_denominator = c->has_denominator;
    row->denominator = c->denominator;
    row->has_value = c->has_value;
    row->value = c->value;
    row->has_interval = c->has_interval;
    if (c->has_interval) {
        row->lower_95 = c->ci95.lower;
        row->upper_95 = c->ci95.upper;
        row->lower_99_8 = c->ci998.lower;
        row->upper_99_8 = c->ci998.upper;
    }
    row->vs_england = (Cdof__V1__Verdict)c->vs_england;
    row->vs_region = (Cdof__V1__Verdict)c->vs_region;
    row->quintile = (uint32_t)c->quintile;
    row->england_value = isnan(c->england_value) ? 0 : c->england_value;
    row->region_value = isnan(c->region_value) ? 0 : c->region_value;
    row->received_ms = c->received_ms;
}

typedef struct {
    hub_t *hub;
    cdof_store_txn_t *txn;
    const cdof_metric_t *m;
    const char *area;
    cdof_period_t found;
    bool have;
} latest_ctx_t;

static int find_latest(void *ctx, const cdof_period_t *p)
{
    latest_ctx_t *lc = ctx;
    cdof_point_t pt;
    int rc = cdof_points_get(lc->hub->pts, lc->txn, lc->m->id, lc->area, p, &pt);
    if (rc == CDOF_ENOTFOUND) {
        /* England and regions are aggregates even when nobody submitted them. */
        const cdof_area_t *a = cdof_ref_area(lc->hub->ref, lc->area);
        if (!a || a->kind == CDOF_AREA_UTLA)
            return 0;
    } else if (rc < 0) {
        return rc;
    }
    lc->found = *p;
    lc->have = true;
    return 1;
}

static int add_compared(reply_t *rp, hub_t *hub, cdof_store_txn_t *txn, const cdof_metric_t *m,
                        const cdof_period_t *p, const char *area)
{
    cdof_compare_t *cmp = NULL;
    int rc = hub_compare_load(hub, txn, m, p, &cmp);
    if (rc < 0)
        return rc;
    const cdof_compare_row_t *row = cdof_compare_find(cmp, area);
    if (row)
        add_row(rp, m, p, row);
    cdof_compare_destroy(&cmp);
    return 0;
}

static int q_area(hub_t *hub, cdof_store_txn_t *txn, const Cdof__V1__AreaQuery *q, reply_t *rp)
{
    if (!cdof_ref_area(hub->ref, q->area_code)) {
        snprintf(rp->error, sizeof rp->error, "'%s' is not a known area code", q->area_code);
        return CDOF_ENOTFOUND;
    }
    cdof_period_t want;
    bool fixed = q->period && *q->period;
    if (fixed && cdof_period_parse(q->period, &want, rp->error, sizeof rp->error) < 0)
        return CDOF_EINVALID;
    for (size_t i = 0; i < cdof_ref_metric_count(hub->ref); i++) {
        const cdof_metric_t *m = cdof_ref_metric_at(hub->ref, i);
        latest_ctx_t lc = {.hub = hub, .txn = txn, .m = m, .area = q->area_code};
        int rc;
        if (fixed)
            rc = find_latest(&lc, &want) < 0 ? -EIO : 0;
        else
            rc = hub_periods_scan(hub, txn, m, true, find_latest, &lc);
        if (rc < 0)
            return rc;
        if (lc.have && (rc = add_compared(rp, hub, txn, m, &lc.found, q->area_code)) < 0)
            return rc;
    }
    return 0;
}

static const cdof_metric_t *league_metric;
static int league_order(const void *a, const void *b)
{
    const Cdof__V1__ComparisonRow *x = *(Cdof__V1__ComparisonRow *const *)a;
    const Cdof__V1__ComparisonRow *y = *(Cdof__V1__ComparisonRow *const *)b;
    if (x->has_value != y->has_value)
        return x->has_value ? -1 : 1;
    double d = x->value - y->value;
    if (league_metric->polarity == CDOF_POLARITY_HIGH_GOOD)
        d = -d;
    return d < 0 ? -1 : d > 0 ? 1 : strcmp(x->area_code, y->area_code);
}

static int q_league(hub_t *hub, cdof_store_txn_t *txn, const Cdof__V1__LeagueQuery *q, reply_t *rp)
{
    const cdof_metric_t *m = cdof_ref_metric(hub->ref, q->metric_id);
    if (!m) {
        snprintf(rp->error, sizeof rp->error, "'%s' is not a metric in the catalogue",
                 q->metric_id);
        return CDOF_ENOTFOUND;
    }
    cdof_period_t p;
    if (cdof_period_parse(q->period, &p, rp->error, sizeof rp->error) < 0)
        return CDOF_EINVALID;
    cdof_compare_t *cmp = NULL;
    int rc = hub_compare_load(hub, txn, m, &p, &cmp);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < cdof_compare_count(cmp); i++) {
        const cdof_compare_row_t *r = cdof_compare_row(cmp, i);
        if (r->area->kind == CDOF_AREA_UTLA)
            add_row(rp, m, &p, r);
    }
    cdof_compare_destroy(&cmp);
    league_metric = m;
    qsort(rp->row_ptrs, rp->resp->n_rows, sizeof *rp->row_ptrs, league_order);
    return 0;
}

typedef struct {
    hub_t *hub;
    cdof_store_txn_t *txn;
    const cdof_metric_t *m;
    const Cdof__V1__SeriesQuery *q;
    reply_t *rp;
} series_ctx_t;

static int series_period(void *ctx, const cdof_period_t *p)
{
    series_ctx_t *sc = ctx;
    if (!sc->q->as_at_ms)
        return add_compared(sc->rp, sc->hub, sc->txn, sc->m, p, sc->q->area_code);
    /* As at a date: the value then, without comparisons (those need every area as at then). */
    cdof_point_t pt;
    int rc = cdof_points_get_as_at(sc->hub->pts, sc->txn, sc->m->id, sc->q->area_code, p,
                                   sc->q->as_at_ms, &pt);
    if (rc == CDOF_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    cdof_compare_input_t in = hub_point_input(cdof_ref_area(sc->hub->ref, sc->q->area_code), &pt);
    cdof_compare_t *cmp = cdof_compare_run(sc->hub->ref, sc->m, &in, 1);
    if (!cmp)
        return -ENOMEM;
    const cdof_compare_row_t *row = cdof_compare_find(cmp, sc->q->area_code);
    if (row) {
        cdof_compare_row_t copy = *row;
        copy.vs_england = copy.vs_region = CDOF_VERDICT_NOT_COMPARED;
        copy.england_value = copy.region_value = NAN;
        copy.quintile = 0;
        add_row(sc->rp, sc->m, p, &copy);
    }
    cdof_compare_destroy(&cmp);
    return 0;
}

static int q_series(hub_t *hub, cdof_store_txn_t *txn, const Cdof__V1__SeriesQuery *q, reply_t *rp)
{
    const cdof_metric_t *m = cdof_ref_metric(hub->ref, q->metric_id);
    if (!m || !cdof_ref_area(hub->ref, q->area_code)) {
        snprintf(rp->error, sizeof rp->error, "'%s' is not %s", m ? q->area_code : q->metric_id,
                 m ? "a known area code" : "a metric in the catalogue");
        return CDOF_ENOTFOUND;
    }
    series_ctx_t sc = {hub, txn, m, q, rp};
    return hub_periods_scan(hub, txn, m, false, series_period, &sc);
}

typedef struct {
    reply_t *rp;
    const char *prefix;
    size_t limit;
} alerts_ctx_t;

static int alert_visit(void *ctx, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    (void)key;
    alerts_ctx_t *ac = ctx;
    Cdof__V1__QueryResponse *resp = ac->rp->resp;
    if (resp->n_alerts >= ac->limit)
        return 1;
    char err[128];
    Cdof__V1__Alert *a = cdof_wire_alert_decode(val->data, val->len, err, sizeof err);
    if (!a)
        return CDOF_ECORRUPT;
    char topic[128];
    snprintf(topic, sizeof topic, "alert/%s/%s/%s", a->team, a->region_code, a->area_code);
    if (ac->prefix && *ac->prefix && strncmp(topic, ac->prefix, strlen(ac->prefix)) != 0) {
        cdof__v1__alert__free_unpacked(a, NULL);
        return 0;
    }
    ac->rp->alerts[resp->n_alerts++] = a;
    return 0;
}

static int q_alerts(hub_t *hub, cdof_store_txn_t *txn, const Cdof__V1__AlertsQuery *q, reply_t *rp)
{
    size_t limit = q->limit && q->limit < MAX_ROWS ? q->limit : MAX_ROWS;
    rp->alerts = calloc(limit, sizeof *rp->alerts);
    if (!rp->alerts)
        return -ENOMEM;
    rp->resp->alerts = rp->alerts;
    uint8_t from[8];
    if (q->since_sequence == UINT64_MAX)
        return 0;
    cdof_store_be64(from, q->since_sequence + 1);
    alerts_ctx_t ac = {rp, q->topic_prefix, limit};
    return cdof_store_scan(txn, hub->db_alerts, from, sizeof from, NULL, 0, alert_visit, &ac);
}

static int agent_visit(void *ctx, const cdof_agent_record_t *rec)
{
    reply_t *rp = ctx;
    size_t i = rp->resp->n_agents;
    if (i >= rp->cap)
        return 1;
    Cdof__V1__AgentStatus *s = &rp->agents[i];
    cdof__v1__agent_status__init(s);
    snprintf(rp->agent_ids[i], sizeof rp->agent_ids[i], "%s", rec->agent_id);
    s->agent_id = rp->agent_ids[i];
    s->high_water = rec->high_water;
    s->last_heard_ms = rec->last_heard_ms;
    s->outbox_depth = rec->outbox_depth;
    s->oldest_unacked_ms = rec->oldest_unacked_ms;
    rp->agent_ptrs[i] = s;
    rp->resp->n_agents++;
    return 0;
}

static int q_agents(hub_t *hub, cdof_store_txn_t *txn, reply_t *rp)
{
    rp->agents = calloc(rp->cap, sizeof *rp->agents);
    rp->agent_ptrs = calloc(rp->cap, sizeof *rp->agent_ptrs);
    rp->agent_ids = calloc(rp->cap, sizeof *rp->agent_ids);
    if (!rp->agents || !rp->agent_ptrs || !rp->agent_ids)
        return -ENOMEM;
    rp->resp->agents = rp->agent_ptrs;
    return cdof_points_agent_scan(hub->pts, txn, agent_visit, rp);
}

static int answer(hub_t *hub, const Cdof__V1__QueryRequest *req, reply_t *rp)
{
    cdof_store_txn_t *txn = NULL;
    int rc = cdof_store_begin(hub->store, false, &txn);
    if (rc < 0)
        return rc;
    switch (req->query_case) {
    case CDOF__V1__QUERY_REQUEST__QUERY_AREA:
        rc = q_area(hub, txn, req->area, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_LEAGUE:
        rc = q_league(hub, txn, req->league, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_SERIES:
        rc = q_series(hub, txn, req->series, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_ALERTS:
        rc = q_alerts(hub, txn, req->alerts, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_AGENTS:
        rc = q_agents(hub, txn, rp);
        break;
    case CDOF__V1__QUERY_REQUEST__QUERY_HEALTH:
        cdof__v1__health__init(&rp->health);
        rc = hub_health_fill(hub, txn, &rp->health);
        rp->resp->health = rc == 0 ? &rp->health : NULL;
        break;
    default:
        snprintf(rp->error, sizeof rp->error, "this hub does not answer that query yet");
        rc = CDOF_EINVALID;
    }
    cdof_store_abort(&txn);
    return rc;
}

int hub_query_handle(hub_t *hub)
{
    zmq_msg_t rid, body;
    zmq_msg_init(&rid);
    zmq_msg_init(&body);
    if (zmq_msg_recv(&rid, hub->query, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
        return errno == EAGAIN ? 0 : -errno;
    }
    int frames = 0;
    while (zmq_msg_more(frames ? &body : &rid)) {
        zmq_msg_close(&body);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, hub->query, 0) < 0)
            break;
        frames++;
    }
    Cdof__V1__QueryResponse resp = CDOF__V1__QUERY_RESPONSE__INIT;
    reply_t rp;
    int rc = reply_init(&rp, &resp);
    Cdof__V1__QueryRequest *req = NULL;
    if (rc == 0 && frames == 1)
        req = cdof_wire_query_request_decode(zmq_msg_data(&body), zmq_msg_size(&body), rp.error,
                                             sizeof rp.error);
    if (rc == 0 && !req) {
        resp.status = CDOF__V1__QUERY_STATUS__QUERY_STATUS_BAD_REQUEST;
        if (frames != 1)
            snprintf(rp.error, sizeof rp.error, "expected one frame, a QueryRequest");
    } else if (rc == 0) {
        resp.request_id = req->request_id;
        rc = answer(hub, req, &rp);
        resp.status = rc == 0                ? CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK
                      : rc == CDOF_ENOTFOUND ? CDOF__V1__QUERY_STATUS__QUERY_STATUS_NOT_FOUND
                      : rc == CDOF_EINVALID  ? CDOF__V1__QUERY_STATUS__QUERY_STATUS_BAD_REQUEST
                                             : CDOF__V1__QUERY_STATUS__QUERY_STATUS_INTERNAL;
        if (rc < 0 && !rp.error[0])
            snprintf(rp.error, sizeof rp.error, "%s", cdof_strerror(rc));
    } else {
        resp.status = CDOF__V1__QUERY_STATUS__QUERY_STATUS_INTERNAL;
        snprintf(rp.error, sizeof rp.error, "%s", cdof_strerror(rc));
    }
    resp.error = rp.error;
    size_t decoded_alerts = resp.n_alerts;
    if (resp.status != CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK)
        resp.n_rows = resp.n_alerts = resp.n_agents = 0;
    uint8_t *buf;
    size_t len;
    if (cdof_wire_pack(&resp.base, &buf, &len) == 0) {
        zmq_send(hub->query, zmq_msg_data(&rid), zmq_msg_size(&rid), ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(hub->query, buf, len, ZMQ_DONTWAIT);
        free(buf);
    }
    if (req)
        cdof__v1__query_request__free_unpacked(req, NULL);
    resp.n_alerts = decoded_alerts;
    reply_free(&rp);
    zmq_msg_close(&rid);
    zmq_msg_close(&body);
    return 0;
}
