/* agents/client: the query client against a real ZeroMQ ROUTER standing in for the hub (an answer
 * matched by request_id, stale answers dropped, paging, a time-out, a read asked again once the
 * link is made anew and a write never), and the alert line and record that cdof-query and
 * cdof-watch print. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "cdof_client.h"
#include "cdof_client_alert.h"
#include "cdof_error.h"
#include "cdof_period.h"
#include "cdof_wire.h"

#include "capture.h"

static void test_alert_text_and_json(void **state)
{
    (void)state;
    Cdof__V1__Period p;
    cdof__v1__period__init(&p);
    p.kind = CDOF__V1__PERIOD_KIND__PERIOD_KIND_MONTH;
    p.first_day = cdof_days_from_civil(2024, 3, 1);
    p.last_day = cdof_days_from_civil(2024, 3, 31);
    Cdof__V1__Alert a;
    cdof__v1__alert__init(&a);
    a.sequence = 12;
    a.rule = "worse_than_england";
    a.metric_id = "continuity_of_care";
    a.area_code = "E06000009";
    a.region_code = "E12000002";
    a.team = "ohid";
    a.state = CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING;
    a.severity = CDOF__V1__SEVERITY__SEVERITY_CRITICAL;
    a.period = &p;
    a.value = 10.2;
    a.lower = 8.1;
    a.upper = 12.6;
    a.benchmark = 41.3;
    a.confidence = 95;
    a.verdict = CDOF__V1__VERDICT__VERDICT_WORST;
    a.summary = "Blackpool continuity of care\nfar below England";
    a.dedupe_key = "worse_than_england|continuity_of_care|E06000009";
    a.raised_ms = 1714557600000; /* 2024-05-01T10:00:00Z */
    a.reported = 152;            /* England's coverage when judged */
    a.expected = 153;

    capture_t c;
    cap_open(&c);
    cdof_client_alert_line(&a, "Blackpool", true, c.f);
    assert_string_equal(cap_text(&c),
                        "#12 FIRING critical worse_than_england ohid E12000002 E06000009 "
                        "Blackpool continuity_of_care 2024-03: 10.2% (95% 8.1\xe2\x80\x93"
                        "12.6) vs England 41.3% \xe2\x80\x94 Blackpool continuity of care far "
                        "below England");
    cap_free(&c);

    cap_open(&c);
    assert_int_equal(cdof_client_alert_json(&a, c.f), 0);
    assert_string_equal(
        cap_text(&c),
        "{\"sequence\":12,\"raised_ms\":1714557600000,\"raised\":\"2024-05-01T10:00:00Z\","
        "\"state\":\"firing\",\"severity\":\"critical\",\"rule\":\"worse_than_england\","
        "\"team\":\"ohid\",\"region_code\":\"E12000002\",\"area_code\":\"E06000009\","
        "\"metric_id\":\"continuity_of_care\",\"period\":\"2024-03\",\"value\":10.2,"
        "\"lower\":8.1,\"upper\":12.6,\"confidence\":95,\"benchmark\":41.3,"
        "\"verdict\":\"worst\","
        "\"dedupe_key\":\"worse_than_england|continuity_of_care|E06000009\","
        "\"acknowledged_by\":\"\",\"summary\":\"Blackpool continuity of care\\nfar below "
        "England\",\"subject\":\"\",\"fired_sequence\":null,\"muted_by\":\"\","
        "\"reported\":152,\"expected\":153}");
    cap_free(&c);

    /* an alert without figures (agent silent) keeps to the fixed words and the summary */
    Cdof__V1__Alert s;
    cdof__v1__alert__init(&s);
    s.sequence = 3;
    s.rule = "agent_silent";
    s.team = "jcdu";
    s.state = CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED;
    s.severity = CDOF__V1__SEVERITY__SEVERITY_WARNING;
    s.summary = "blackpool heard again";
    cap_open(&c);
    cdof_client_alert_line(&s, NULL, false, c.f);
    assert_string_equal(cap_text(&c), "#3 RESOLVED warning agent_silent jcdu - - \xe2\x80\x94 "
                                      "blackpool heard again");
    cap_free(&c);
}

/* --- a stand-in hub --- */

typedef enum {
    HUB_ANSWER,     /* a stale answer first, then the right one */
    HUB_PAGES,      /* three pages, tokens "p2" and "p3" */
    HUB_SAME_TOKEN, /* always the token "again" */
    HUB_SILENT,     /* takes the question, never answers */
    HUB_STALE,      /* answers only with old request ids, many of them */
    HUB_RESTART     /* takes the question, closes, binds again and answers what comes */
} hub_mode_t;

typedef struct {
    hub_mode_t mode;
    char ep[256];
    void *ctx;
    pthread_t tid;
    int asked;          /* questions received */
    uint64_t ids[8];    /* their request ids */
    char tokens[8][16]; /* their page tokens */
} hub_t;

/* A ROUTER bound to the hub's endpoint whose receives wait at most wait_ms: long for the first
 * question (a loaded machine), shorter after a rebind, where a test may expect nothing. */
static void *hub_bind(hub_t *h, int wait_ms)
{
    void *r = zmq_socket(h->ctx, ZMQ_ROUTER);
    int linger = 0, timeout = wait_ms;
    zmq_setsockopt(r, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(r, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (zmq_bind(r, h->ep) < 0) {
        zmq_close(r);
        return NULL;
    }
    return r;
}

/* Receives one question into routing id rid. Returns false when none came within the socket's
 * time-out. */
static bool hub_take(hub_t *h, void *r, zmq_msg_t *rid)
{
    zmq_msg_t body;
    zmq_msg_init(rid);
    zmq_msg_init(&body);
    bool ok = zmq_msg_recv(rid, r, 0) >= 0 && zmq_msg_recv(&body, r, 0) >= 0;
    if (ok) {
        char err[128];
        Cdof__V1__QueryRequest *req = cdof_wire_query_request_decode(
            zmq_msg_data(&body), zmq_msg_size(&body), err, sizeof err);
        if (req && h->asked < 8) {
            h->ids[h->asked] = req->request_id;
            snprintf(h->tokens[h->asked], sizeof h->tokens[0], "%s",
                     req->page_token ? req->page_token : "");
        }
        h->asked++;
        cdof__v1__query_request__free_unpacked(req, NULL);
    }
    zmq_msg_close(&body);
    return ok;
}

static void hub_answer(void *r, zmq_msg_t *rid, uint64_t id, const char *token)
{
    Cdof__V1__QueryResponse resp = CDOF__V1__QUERY_RESPONSE__INIT;
    resp.request_id = id;
    resp.status = CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK;
    resp.next_page_token = (char *)(token ? token : "");
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(cdof_wire_pack(&resp.base, &buf, &len), 0);
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, rid);
    zmq_msg_send(&copy, r, ZMQ_SNDMORE);
    zmq_send(r, buf, len, 0);
    free(buf);
}

static void *hub_run(void *arg)
{
    hub_t *h = arg;
    void *r = hub_bind(h, 20000);
    zmq_msg_t rid;
    if (!r)
        return NULL;
    switch (h->mode) {
    case HUB_ANSWER:
        if (hub_take(h, r, &rid)) {
            hub_answer(r, &rid, h->ids[0] - 1, NULL); /* a late answer to an earlier question */
            hub_answer(r, &rid, h->ids[0], NULL);
            zmq_msg_close(&rid);
        }
        break;
    case HUB_PAGES:
        for (int i = 0; i < 3 && hub_take(h, r, &rid); i++) {
            hub_answer(r, &rid, h->ids[i], i == 0 ? "p2" : i == 1 ? "p3" : NULL);
            zmq_msg_close(&rid);
        }
        break;
    case HUB_SAME_TOKEN: /* the client gives up at the second page */
        for (int i = 0; i < 2 && hub_take(h, r, &rid); i++) {
            hub_answer(r, &rid, h->ids[i], "again");
            zmq_msg_close(&rid);
        }
        break;
    case HUB_SILENT:
        if (hub_take(h, r, &rid))
            zmq_msg_close(&rid);
        break;
    case HUB_STALE:
        if (hub_take(h, r, &rid)) {
            for (int i = 1; i <= 2000; i++)
                hub_answer(r, &rid, h->ids[0] - (uint64_t)i, NULL);
            zmq_msg_close(&rid);
        }
        break;
    case HUB_RESTART:
        if (hub_take(h, r, &rid))
            zmq_msg_close(&rid);
        zmq_close(r); /* the question dies with the connection */
        r = NULL;
        for (int i = 0; i < 50 && !(r = hub_bind(h, 5000)); i++)
            usleep(20000);
        if (r && hub_take(h, r, &rid)) {
            hub_answer(r, &rid, h->ids[1], NULL);
            zmq_msg_close(&rid);
        }
        break;
    }
    if (r) {
        usleep(100000); /* let the answer leave before the socket goes */
        zmq_close(r);
    }
    return NULL;
}

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_client.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/hub", tmpdir);
    unlink(path);
    rmdir(tmpdir);
    return 0;
}

static void hub_start(hub_t *h, hub_mode_t mode)
{
    memset(h, 0, sizeof *h);
    h->mode = mode;
    snprintf(h->ep, sizeof h->ep, "ipc://%s/hub", tmpdir);
    h->ctx = zmq_ctx_new();
    assert_non_null(h->ctx);
    assert_int_equal(pthread_create(&h->tid, NULL, hub_run, h), 0);
}

static void hub_join(hub_t *h)
{
    pthread_join(h->tid, NULL);
    zmq_ctx_term(h->ctx);
}

static cdof_client_t *client_open(const hub_t *h, int timeout_ms, unsigned resends)
{
    cdof_client_opts_t o = {.endpoint = h->ep, .timeout_ms = timeout_ms, .resends = resends};
    cdof_client_t *c = NULL;
    char err[256] = "";
    assert_int_equal(cdof_client_open(&o, &c, err, sizeof err), 0);
    return c;
}

/* Asks for the hub's health; *resp and err as cdof_client_ask's, *id the request id used. */
static int ask_health(cdof_client_t *c, Cdof__V1__QueryResponse **resp, uint64_t *id, char *err,
                      size_t errlen)
{
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_HEALTH;
    req.health = 1;
    *resp = NULL;
    int rc = cdof_client_ask(c, &req, resp, err, errlen);
    *id = req.request_id;
    return rc;
}

static void test_answer_matched(void **state)
{
    (void)state;
    hub_t h;
    hub_start(&h, HUB_ANSWER);
    cdof_client_t *c = client_open(&h, 10000, 0);
    assert_int_equal(cdof_client_wait_link(c, 10000), CDOF_LINK_UP);
    Cdof__V1__QueryResponse *resp;
    uint64_t id;
    char err[256] = "";
    assert_int_equal(ask_health(c, &resp, &id, err, sizeof err), 0);
    assert_non_null(resp);
    assert_int_equal(resp->request_id, id); /* the stale answer was dropped */
    assert_string_equal(cdof_client_status_name(resp->status), "ok");
    cdof__v1__query_response__free_unpacked(resp, NULL);
    cdof_client_close(&c);
    assert_null(c);
    hub_join(&h);
    assert_int_equal(h.asked, 1);
}

static void test_pages(void **state)
{
    (void)state;
    hub_t h;
    hub_start(&h, HUB_PAGES);
    cdof_client_t *c = client_open(&h, 10000, 0);
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_AGENTS;
    req.agents = 1;
    cdof_client_pages_t pages = {0};
    char err[256] = "";
    assert_int_equal(cdof_client_fetch(c, &req, 10, &pages, err, sizeof err), 0);
    assert_int_equal(pages.npages, 3);
    assert_string_equal(h.tokens[0], "");
    assert_string_equal(h.tokens[1], "p2");
    assert_string_equal(h.tokens[2], "p3");
    assert_string_equal(req.page_token, ""); /* restored */
    cdof_client_pages_free(&pages);
    assert_int_equal(pages.npages, 0);
    cdof_client_close(&c);
    hub_join(&h);

    /* a hub that hands back the same token would page forever */
    hub_start(&h, HUB_SAME_TOKEN);
    c = client_open(&h, 10000, 0);
    assert_int_equal(cdof_client_fetch(c, &req, 10, &pages, err, sizeof err), CDOF_EPROTO);
    assert_non_null(strstr(err, "same page token"));
    assert_int_equal(pages.npages, 2);
    cdof_client_pages_free(&pages);
    cdof_client_close(&c);
    hub_join(&h);
}

static void test_timeout(void **state)
{
    (void)state;
    hub_t h;
    hub_start(&h, HUB_SILENT);
    cdof_client_t *c = client_open(&h, 300, 3);
    Cdof__V1__QueryResponse *resp;
    uint64_t id;
    char err[256] = "";
    assert_int_equal(ask_health(c, &resp, &id, err, sizeof err), -ETIMEDOUT);
    assert_null(resp);
    assert_string_equal(err, "no answer within 300 ms");
    cdof_client_close(&c);
    hub_join(&h);
    assert_int_equal(h.asked, 1); /* a live link: nothing resent */
}

/* Answers to other questions never end a wait, however many come. */
static void test_only_stale_answers(void **state)
{
    (void)state;
    hub_t h;
    hub_start(&h, HUB_STALE);
    cdof_client_t *c = client_open(&h, 1000, 0);
    Cdof__V1__QueryResponse *resp;
    uint64_t id;
    char err[256] = "";
    assert_int_equal(ask_health(c, &resp, &id, err, sizeof err), -ETIMEDOUT);
    assert_null(resp);
    cdof_client_close(&c);
    hub_join(&h);
    assert_int_equal(h.asked, 1);
}

/* The hub goes away holding the question and comes back: a read is asked again, with the same
 * request_id, and answered; without resends it times out. */
static void test_resend_after_reconnect(void **state)
{
    (void)state;
    for (unsigned resends = 0; resends <= 1; resends++) {
        hub_t h;
        hub_start(&h, HUB_RESTART);
        cdof_client_t *c = client_open(&h, resends ? 20000 : 2000, resends);
        assert_int_equal(cdof_client_wait_link(c, 10000), CDOF_LINK_UP);
        Cdof__V1__QueryResponse *resp;
        uint64_t id;
        char err[256] = "";
        int rc = ask_health(c, &resp, &id, err, sizeof err);
        cdof_client_close(&c);
        hub_join(&h);
        if (resends) {
            assert_int_equal(rc, 0);
            assert_int_equal(h.asked, 2);
            assert_int_equal(h.ids[0], id);
            assert_int_equal(h.ids[1], id);
            assert_int_equal(resp->request_id, id);
        } else {
            assert_int_equal(rc, -ETIMEDOUT);
            assert_int_equal(h.asked, 1);
        }
        if (resp)
            cdof__v1__query_response__free_unpacked(resp, NULL);
    }
}

/* A write is sent once whatever happens to the link: a second copy would be a second record. */
static void test_write_not_resent(void **state)
{
    (void)state;
    hub_t h;
    hub_start(&h, HUB_RESTART);
    cdof_client_t *c = client_open(&h, 2000, 3);
    assert_int_equal(cdof_client_wait_link(c, 10000), CDOF_LINK_UP);
    Cdof__V1__QueryRequest req = CDOF__V1__QUERY_REQUEST__INIT;
    Cdof__V1__AlertAck ack = CDOF__V1__ALERT_ACK__INIT;
    ack.sequence = 7;
    ack.by = "tester";
    req.query_case = CDOF__V1__QUERY_REQUEST__QUERY_ACK;
    req.ack = &ack;
    Cdof__V1__QueryResponse *resp = NULL;
    char err[256] = "";
    assert_int_equal(cdof_client_ask(c, &req, &resp, err, sizeof err), -ETIMEDOUT);
    cdof_client_close(&c);
    hub_join(&h);
    assert_int_equal(h.asked, 1);
}

static void test_bad_endpoint(void **state)
{
    (void)state;
    cdof_client_opts_t o = {.endpoint = "nonsense", .timeout_ms = 100};
    cdof_client_t *c = NULL;
    char err[256] = "";
    assert_int_equal(cdof_client_open(&o, &c, err, sizeof err), CDOF_EINVALID);
    assert_null(c);
    assert_non_null(strstr(err, "cannot use 'nonsense'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alert_text_and_json),
        cmocka_unit_test(test_answer_matched),
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_only_stale_answers),
        cmocka_unit_test(test_resend_after_reconnect),
        cmocka_unit_test(test_write_not_resent),
        cmocka_unit_test(test_bad_endpoint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
