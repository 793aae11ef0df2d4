/* The wire helpers: packing, conversions, and bounded decoding of good, hostile, truncated and
 * oversized buffers. Run under ASan, the garbage loops also show that no decode path leaks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_error.h"
#include "cdof_period.h"
#include "cdof_wire.h"

static cdof_period_t P(const char *text)
{
    cdof_period_t p;
    char err[256];
    if (cdof_period_parse(text, &p, err, sizeof err) != 0)
        fail_msg("%s", err);
    return p;
}

static uint8_t *pack(const void *msg, size_t *len)
{
    uint8_t *buf = NULL;
    assert_int_equal(cdof_wire_pack((const ProtobufCMessage *)msg, &buf, len), 0);
    assert_non_null(buf);
    return buf;
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static uint32_t rng_state = 2463534242u;
static uint32_t xorshift(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* A packed metric-update envelope for continuity_of_care, with the given strings. */
static uint8_t *update_envelope(const char *agent, uint64_t seq, const char *metric,
                                const char *note, const cdof_period_t *period, size_t *len)
{
    cdof_update_t u = {.metric_id = metric,
                       .area_code = "E06000001",
                       .period = *period,
                       .fig.has_numerator = true,
                       .fig.numerator = 12,
                       .fig.has_denominator = true,
                       .fig.denominator = 40};
    Cdof__V1__MetricUpdate mu = CDOF__V1__METRIC_UPDATE__INIT;
    Cdof__V1__Period pm;
    cdof_wire_update_to_msg(&u, &mu, &pm);
    mu.note = (char *)note;
    mu.source_file = "drop-2024-03.csv";
    mu.source_line = 7;
    Cdof__V1__Envelope e = CDOF__V1__ENVELOPE__INIT;
    e.agent_id = (char *)agent;
    e.sequence = seq;
    e.sent_ms = 1714550400000;
    e.body_case = CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE;
    e.metric_update = &mu;
    return pack(&e, len);
}

static void expect_envelope_error(const uint8_t *buf, size_t len, const char *want)
{
    char err[512] = "";
    Cdof__V1__Envelope *e = cdof_wire_envelope_decode(buf, len, err, sizeof err);
    if (e) {
        cdof__v1__envelope__free_unpacked(e, NULL);
        fail_msg("decoded, want '%s'", want);
    }
    if (!strstr(err, want))
        fail_msg("reason '%s' lacks '%s'", err, want);
}

static void test_pack_empty(void **state)
{
    (void)state;
    Cdof__V1__Heartbeat hb = CDOF__V1__HEARTBEAT__INIT;
    size_t len = 99;
    uint8_t *buf = pack(&hb, &len);
    assert_int_equal(len, 0);
    free(buf);
    uint8_t *out = NULL;
    assert_int_equal(cdof_wire_pack(NULL, &out, &len), -EINVAL);
    assert_null(out);
}

static void test_update_round_trip(void **state)
{
    (void)state;
    const char *texts[] = {"2024-03", "2024-Q1", "2023/24", "2023", "2021-2023"};
    for (size_t i = 0; i < 5; i++) {
        cdof_period_t p = P(texts[i]);
        size_t len;
        uint8_t *buf = update_envelope("E06000001", 42, "continuity_of_care", "a note", &p, &len);
        char err[256] = "";
        Cdof__V1__Envelope *e = cdof_wire_envelope_decode(buf, len, err, sizeof err);
        if (!e)
            fail_msg("%s: %s", texts[i], err);
        free(buf);
        assert_string_equal(e->agent_id, "E06000001");
        assert_int_equal(e->sequence, 42);
        assert_int_equal(e->sent_ms, 1714550400000);
        assert_int_equal(e->body_case, CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE);
        assert_string_equal(e->metric_update->note, "a note");
        assert_string_equal(e->metric_update->source_file, "drop-2024-03.csv");
        assert_int_equal(e->metric_update->source_line, 7);
        cdof_update_t u;
        assert_int_equal(cdof_wire_update_from_msg(e->metric_update, &u, err, sizeof err), 0);
        assert_string_equal(u.metric_id, "continuity_of_care");
        assert_string_equal(u.area_code, "E06000001");
        assert_memory_equal(&u.period, &p, sizeof p);
        assert_true(u.fig.has_numerator && u.fig.has_denominator && !u.fig.has_value);
        assert_true(u.fig.numerator == 12 && u.fig.denominator == 40);
        cdof__v1__envelope__free_unpacked(e, NULL);
    }
}

static void test_update_to_msg_presence(void **state)
{
    (void)state;
    /* Absent numbers go out as zero with their presence flag off; NULL strings as "". */
    cdof_update_t u = {.metric_id = NULL,
                       .area_code = NULL,
                       .period = P("2024-03"),
                       .fig.has_value = true,
                       .fig.value = 5,
                       .fig.numerator = 99,
                       .fig.denominator = 98};
    Cdof__V1__MetricUpdate mu = CDOF__V1__METRIC_UPDATE__INIT;
    Cdof__V1__Period pm;
    cdof_wire_update_to_msg(&u, &mu, &pm);
    assert_ptr_equal(mu.period, &pm);
    assert_string_equal(mu.metric_id, "");
    assert_string_equal(mu.area_code, "");
    assert_false(mu.has_numerator);
    assert_true(mu.numerator == 0);
    assert_false(mu.has_denominator);
    assert_true(mu.has_value && mu.value == 5);
    assert_int_equal(pm.kind, CDOF__V1__PERIOD_KIND__PERIOD_KIND_MONTH);
    assert_int_equal(pm.first_day, u.period.first_day);
    assert_int_equal(pm.last_day, u.period.last_day);

    char err[256];
    cdof_update_t back;
    mu.period = NULL;
    assert_int_equal(cdof_wire_update_from_msg(&mu, &back, err, sizeof err), CDOF_EINVALID);
    assert_string_equal(err, "period is missing");
    pm.last_day += 1;
    mu.period = &pm;
    assert_int_equal(cdof_wire_update_from_msg(&mu, &back, err, sizeof err), CDOF_EINVALID);
    assert_non_null(strstr(err, "is not a well-formed period"));
    assert_int_equal(cdof_wire_update_from_msg(NULL, &back, err, sizeof err), CDOF_EINVALID);
}

static void test_period_msg(void **state)
{
    (void)state;
    const char *texts[] = {"2024-03", "2024-Q4", "2023/24", "2023", "2021-2023", "2014-2023"};
    for (size_t i = 0; i < 6; i++) {
        cdof_period_t p = P(texts[i]), q;
        Cdof__V1__Period m;
        cdof_wire_period_to_msg(&p, &m);
        assert_int_equal(cdof_wire_period_from_msg(&m, &q), 0);
        assert_memory_equal(&p, &q, sizeof p);
    }
    cdof_period_t q = {CDOF_PERIOD_MONTH, 1, 2};
    Cdof__V1__Period m = CDOF__V1__PERIOD__INIT;
    assert_int_equal(cdof_wire_period_from_msg(&m, &q), CDOF_EINVALID); /* unspecified */
    assert_int_equal(q.first_day, 1);                                   /* untouched */
    cdof_period_t p = P("2024-03");
    cdof_wire_period_to_msg(&p, &m);
    m.kind = (Cdof__V1__PeriodKind)6;
    assert_int_equal(cdof_wire_period_from_msg(&m, &q), CDOF_EINVALID);
    m.kind = (Cdof__V1__PeriodKind)-1;
    assert_int_equal(cdof_wire_period_from_msg(&m, &q), CDOF_EINVALID);
    m.kind = CDOF__V1__PERIOD_KIND__PERIOD_KIND_QUARTER; /* a month's days as a quarter */
    assert_int_equal(cdof_wire_period_from_msg(&m, &q), CDOF_EINVALID);
    assert_int_equal(cdof_wire_period_from_msg(NULL, &q), CDOF_EINVALID);
}

static void test_envelope_bodies(void **state)
{
    (void)state;
    char err[256];
    /* milestone */
    Cdof__V1__MilestoneEvent me = CDOF__V1__MILESTONE_EVENT__INIT;
    me.milestone_id = "delivery_plan";
    me.partnership = "E08000003";
    me.date = cdof_days_from_civil(2023, 1, 15);
    me.ref = "https://example.org/plan.pdf";
    Cdof__V1__Envelope e = CDOF__V1__ENVELOPE__INIT;
    e.agent_id = "E08000003";
    e.sequence = 1;
    e.body_case = CDOF__V1__ENVELOPE__BODY_MILESTONE_EVENT;
    e.milestone_event = &me;
    size_t len;
    uint8_t *buf = pack(&e, &len);
    Cdof__V1__Envelope *d = cdof_wire_envelope_decode(buf, len, err, sizeof err);
    free(buf);
    assert_non_null(d);
    assert_string_equal(d->milestone_event->milestone_id, "delivery_plan");
    assert_int_equal(d->milestone_event->date, me.date);
    cdof__v1__envelope__free_unpacked(d, NULL);

    /* heartbeat, sequence 0 */
    Cdof__V1__Heartbeat hb = CDOF__V1__HEARTBEAT__INIT;
    hb.outbox_depth = 3;
    hb.high_water = 1000;
    e.sequence = 0;
    e.body_case = CDOF__V1__ENVELOPE__BODY_HEARTBEAT;
    e.heartbeat = &hb;
    buf = pack(&e, &len);
    d = cdof_wire_envelope_decode(buf, len, err, sizeof err);
    free(buf);
    assert_non_null(d);
    assert_int_equal(d->heartbeat->high_water, 1000);
    cdof__v1__envelope__free_unpacked(d, NULL);

    /* milestone with sequence 0 */
    e.body_case = CDOF__V1__ENVELOPE__BODY_MILESTONE_EVENT;
    e.milestone_event = &me;
    buf = pack(&e, &len);
    expect_envelope_error(buf, len, "sequence is 0 (only heartbeats carry 0)");
    free(buf);

    /* no body */
    e.sequence = 5;
    e.body_case = CDOF__V1__ENVELOPE__BODY__NOT_SET;
    buf = pack(&e, &len);
    expect_envelope_error(buf, len, "envelope has no body");
    free(buf);

    /* no agent id */
    e.agent_id = "";
    e.body_case = CDOF__V1__ENVELOPE__BODY_MILESTONE_EVENT;
    buf = pack(&e, &len);
    expect_envelope_error(buf, len, "agent_id is missing");
    free(buf);

    /* milestone string bounds */
    e.agent_id = "E08000003";
    char *long_id = repeat('m', CDOF_WIRE_MAX_ID + 1);
    char *long_text = repeat('t', CDOF_WIRE_MAX_TEXT + 1);
    me.milestone_id = long_id;
    buf = pack(&e, &len);
    expect_envelope_error(buf, len, "milestone_id is longer than 64 bytes");
    free(buf);
    me.milestone_id = "delivery_plan";
    me.partnership = long_id;
    buf = pack(&e, &len);
    expect_envelope_error(buf, len, "partnership is longer than 64 bytes");
    free(buf);
    me.partnership = "E08000003";
    me.ref = long_text;
    buf = pack(&e, &len);
    expect_envelope_error(buf, len, "ref is longer than 1024 bytes");
    free(buf);
    me.ref = "";
    me.note = long_text;
    buf = pack(&e, &len);
    expect_envelope_error(buf, len, "note is longer than 1024 bytes");
    free(buf);
    free(long_id);
    free(long_text);
}

static void test_envelope_update_bounds(void **state)
{
    (void)state;
    cdof_period_t p = P("2024-03");
    size_t len;
    char *id64 = repeat('a', CDOF_WIRE_MAX_ID), *id65 = repeat('a', CDOF_WIRE_MAX_ID + 1);
    char *t1024 = repeat('n', CDOF_WIRE_MAX_TEXT), *t1025 = repeat('n', CDOF_WIRE_MAX_TEXT + 1);
    char err[256];

    uint8_t *buf = update_envelope(id64, 1, id64, t1024, &p, &len); /* at the limits */
    Cdof__V1__Envelope *e = cdof_wire_envelope_decode(buf, len, err, sizeof err);
    if (!e)
        fail_msg("%s", err);
    cdof__v1__envelope__free_unpacked(e, NULL);
    free(buf);

    buf = update_envelope(id65, 1, "x", "", &p, &len);
    expect_envelope_error(buf, len, "agent_id is longer than 64 bytes");
    free(buf);
    buf = update_envelope("a", 1, id65, "", &p, &len);
    expect_envelope_error(buf, len, "metric_id is longer than 64 bytes");
    free(buf);
    buf = update_envelope("a", 1, "x", t1025, &p, &len);
    expect_envelope_error(buf, len, "note is longer than 1024 bytes");
    free(buf);
    buf = update_envelope("a", 0, "x", "", &p, &len);
    expect_envelope_error(buf, len, "sequence is 0");
    free(buf);

    /* malformed and missing periods */
    cdof_period_t bad = p;
    bad.last_day++;
    buf = update_envelope("a", 1, "x", "", &bad, &len);
    expect_envelope_error(buf, len, "period (kind 1, days");
    expect_envelope_error(buf, len, "is not a well-formed period");
    free(buf);
    bad = (cdof_period_t){CDOF_PERIOD_NONE, 0, 0};
    buf = update_envelope("a", 1, "x", "", &bad, &len);
    expect_envelope_error(buf, len, "is not a well-formed period");
    free(buf);
    Cdof__V1__MetricUpdate mu = CDOF__V1__METRIC_UPDATE__INIT;
    mu.metric_id = "continuity_of_care";
    Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
    env.agent_id = "a";
    env.sequence = 3;
    env.body_case = CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE;
    env.metric_update = &mu;
    buf = pack(&env, &len);
    expect_envelope_error(buf, len, "period is missing");
    free(buf);
    free(id64);
    free(id65);
    free(t1024);
    free(t1025);
}

static void test_envelope_hostile_buffers(void **state)
{
    (void)state;
    char err[256];
    /* oversized: refused before protobuf sees it */
    uint8_t *big = calloc(1, CDOF_WIRE_MAX_MESSAGE + 1);
    assert_non_null(big);
    expect_envelope_error(big, CDOF_WIRE_MAX_MESSAGE + 1,
                          "envelope of 65537 bytes is larger than the limit of 65536 bytes");
    assert_null(cdof_wire_ack_decode(big, CDOF_WIRE_MAX_MESSAGE + 1, err, sizeof err));
    assert_null(cdof_wire_alert_decode(big, CDOF_WIRE_MAX_MESSAGE + 1, err, sizeof err));
    assert_null(cdof_wire_query_request_decode(big, CDOF_WIRE_MAX_MESSAGE + 1, err, sizeof err));
    free(big);
    expect_envelope_error(NULL, 10, "no buffer");
    expect_envelope_error((const uint8_t *)"", 0, "agent_id is missing");
    /* A length-delimited field that claims more bytes than remain. */
    const uint8_t lie[] = {0x0a, 0x7f, 'a', 'b'};
    expect_envelope_error(lie, sizeof lie, "does not decode as cdof.v1.Envelope");
    /* A wrong wire type for agent_id (varint instead of bytes). */
    const uint8_t wrongtype[] = {0x08, 0x01};
    expect_envelope_error(wrongtype, sizeof wrongtype, "");

    /* Every truncation of a good envelope either fails or decodes to something checked. */
    cdof_period_t p = P("2021-2023");
    size_t len;
    uint8_t *buf = update_envelope("E06000001", 9, "drug_misuse_deaths", "note", &p, &len);
    size_t decoded = 0;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees any over-read */
        assert_non_null(copy);
        memcpy(copy, buf, cut);
        Cdof__V1__Envelope *e = cdof_wire_envelope_decode(copy, cut, err, sizeof err);
        if (e) {
            decoded++;
            assert_int_not_equal(e->body_case, CDOF__V1__ENVELOPE__BODY__NOT_SET);
            cdof__v1__envelope__free_unpacked(e, NULL);
        }
        free(copy);
    }
    assert_true(decoded < len / 2);

    /* Single-byte corruptions of the good envelope. */
    for (size_t i = 0; i < len; i++) {
        for (int v = 0; v < 256; v += 17) {
            uint8_t *copy = malloc(len);
            assert_non_null(copy);
            memcpy(copy, buf, len);
            copy[i] = (uint8_t)v;
            Cdof__V1__Envelope *e = cdof_wire_envelope_decode(copy, len, err, sizeof err);
            if (e) {
                if (e->body_case == CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE) {
                    cdof_update_t u;
                    assert_int_equal(
                        cdof_wire_update_from_msg(e->metric_update, &u, err, sizeof err), 0);
                    assert_true(cdof_period_valid(&u.period));
                }
                cdof__v1__envelope__free_unpacked(e, NULL);
            }
            free(copy);
        }
    }
    free(buf);

    /* Random garbage for every decoder. */
    for (int round = 0; round < 3000; round++) {
        size_t n = 1 + xorshift() % 300;
        uint8_t *g = malloc(n);
        assert_non_null(g);
        for (size_t i = 0; i < n; i++)
            g[i] = (uint8_t)xorshift();
        Cdof__V1__Envelope *e = cdof_wire_envelope_decode(g, n, err, sizeof err);
        if (e)
            cdof__v1__envelope__free_unpacked(e, NULL);
        Cdof__V1__Ack *a = cdof_wire_ack_decode(g, n, err, sizeof err);
        if (a)
            cdof__v1__ack__free_unpacked(a, NULL);
        Cdof__V1__Alert *al = cdof_wire_alert_decode(g, n, err, sizeof err);
        if (al)
            cdof__v1__alert__free_unpacked(al, NULL);
        Cdof__V1__QueryRequest *q = cdof_wire_query_request_decode(g, n, err, sizeof err);
        if (q)
            cdof__v1__query_request__free_unpacked(q, NULL);
        Cdof__V1__QueryResponse *r = cdof_wire_query_response_decode(g, n, err, sizeof err);
        if (r)
            cdof__v1__query_response__free_unpacked(r, NULL);
        free(g);
    }
}

static Cdof__V1__AckEntry **make_entries(size_t n)
{
    Cdof__V1__AckEntry **v = calloc(n, sizeof *v);
    Cdof__V1__AckEntry *store = calloc(n, sizeof *store);
    assert_non_null(v);
    assert_non_null(store);
    for (size_t i = 0; i < n; i++) {
        cdof__v1__ack_entry__init(&store[i]);
        store[i].sequence = i + 1;
        store[i].status = CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED;
        v[i] = &store[i];
    }
    return v;
}

static void free_entries(Cdof__V1__AckEntry **v)
{
    free(v[0]);
    free(v);
}

static void test_ack(void **state)
{
    (void)state;
    char err[256];
    Cdof__V1__AckEntry **entries = make_entries(CDOF_WIRE_MAX_ACKS + 1);
    entries[1]->status = CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED;
    entries[1]->reason = "numerator 12 is greater than denominator 10";
    entries[2]->status = CDOF__V1__ACK_STATUS__ACK_STATUS_DUPLICATE;
    Cdof__V1__Ack a = CDOF__V1__ACK__INIT;
    a.entries = entries;
    a.n_entries = 3;
    a.high_water = 3;
    size_t len;
    uint8_t *buf = pack(&a, &len);
    Cdof__V1__Ack *d = cdof_wire_ack_decode(buf, len, err, sizeof err);
    free(buf);
    assert_non_null(d);
    assert_int_equal(d->n_entries, 3);
    assert_int_equal(d->entries[1]->status, CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_string_equal(d->entries[1]->reason, "numerator 12 is greater than denominator 10");
    assert_int_equal(d->high_water, 3);
    cdof__v1__ack__free_unpacked(d, NULL);

    /* An empty ack (a hub heartbeat) is fine. */
    Cdof__V1__Ack hb = CDOF__V1__ACK__INIT;
    hb.heartbeat = 1;
    hb.resend_from = 17;
    buf = pack(&hb, &len);
    d = cdof_wire_ack_decode(buf, len, err, sizeof err);
    free(buf);
    assert_non_null(d);
    assert_true(d->heartbeat);
    assert_int_equal(d->resend_from, 17);
    cdof__v1__ack__free_unpacked(d, NULL);

    /* The limit, and one over it; both fit in a message. */
    a.n_entries = CDOF_WIRE_MAX_ACKS;
    entries[1]->reason = "";
    buf = pack(&a, &len);
    assert_true(len < CDOF_WIRE_MAX_MESSAGE);
    d = cdof_wire_ack_decode(buf, len, err, sizeof err);
    free(buf);
    assert_non_null(d);
    cdof__v1__ack__free_unpacked(d, NULL);
    a.n_entries = CDOF_WIRE_MAX_ACKS + 1;
    buf = pack(&a, &len);
    assert_true(len < CDOF_WIRE_MAX_MESSAGE);
    assert_null(cdof_wire_ack_decode(buf, len, err, sizeof err));
    assert_string_equal(err, "ack has 4097 entries, more than the limit of 4096");
    free(buf);

    /* A status outside the enum, an unspecified one, and a long reason. */
    a.n_entries = 3;
    entries[2]->status = (Cdof__V1__AckStatus)9;
    buf = pack(&a, &len);
    assert_null(cdof_wire_ack_decode(buf, len, err, sizeof err));
    assert_string_equal(err, "ack entry for sequence 3 has status 9");
    free(buf);
    entries[2]->status = CDOF__V1__ACK_STATUS__ACK_STATUS_UNSPECIFIED;
    buf = pack(&a, &len);
    assert_null(cdof_wire_ack_decode(buf, len, err, sizeof err));
    free(buf);
    entries[2]->status = CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED;
    char *long_text = repeat('r', CDOF_WIRE_MAX_TEXT + 1);
    entries[1]->reason = long_text;
    buf = pack(&a, &len);
    assert_null(cdof_wire_ack_decode(buf, len, err, sizeof err));
    assert_string_equal(err, "ack entry reason is longer than 1024 bytes");
    free(buf);
    free(long_text);
    free_entries(entries);
}

static void test_alert(void **state)
{
    (void)state;
    char err[256];
    Cdof__V1__Period pm;
    cdof_period_t p = P("2023/24");
    cdof_wire_period_to_msg(&p, &pm);
    Cdof__V1__Alert a = CDOF__V1__ALERT__INIT;
    a.sequence = 77;
    a.rule = "worse_than_england";
    a.metric_id = "continuity_of_care";
    a.area_code = "E06000001";
    a.region_code = "E12000001";
    a.team = "hmpps";
    a.state = CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING;
    a.period = &pm;
    a.value = 30.5;
    a.verdict = CDOF__V1__VERDICT__VERDICT_WORST;
    a.summary = "Hartlepool continuity of care 30.5% is worse than England 42.1%";
    a.dedupe_key = "worse_than_england|continuity_of_care|E06000001";
    size_t len;
    uint8_t *buf = pack(&a, &len);
    Cdof__V1__Alert *d = cdof_wire_alert_decode(buf, len, err, sizeof err);
    free(buf);
    assert_non_null(d);
    assert_int_equal(d->sequence, 77);
    assert_string_equal(d->summary, a.summary);
    assert_int_equal(d->verdict, CDOF__V1__VERDICT__VERDICT_WORST);
    assert_int_equal(d->period->first_day, p.first_day);
    cdof__v1__alert__free_unpacked(d, NULL);

    a.period = NULL; /* an agent-silent alert has no period */
    buf = pack(&a, &len);
    d = cdof_wire_alert_decode(buf, len, err, sizeof err);
    free(buf);
    assert_non_null(d);
    assert_null(d->period);
    cdof__v1__alert__free_unpacked(d, NULL);

    pm.last_day--;
    a.period = &pm;
    buf = pack(&a, &len);
    assert_null(cdof_wire_alert_decode(buf, len, err, sizeof err));
    assert_non_null(strstr(err, "period (kind 3"));
    free(buf);
    cdof_wire_period_to_msg(&p, &pm);
    char *long_text = repeat('s', CDOF_WIRE_MAX_TEXT + 1);
    a.summary = long_text;
    buf = pack(&a, &len);
    assert_null(cdof_wire_alert_decode(buf, len, err, sizeof err));
    assert_string_equal(err, "summary is longer than 1024 bytes");
    free(buf);
    a.summary = "";
    char *long_id = repeat('x', CDOF_WIRE_MAX_ID + 1);
    a.team = long_id;
    buf = pack(&a, &len);
    assert_null(cdof_wire_alert_decode(buf, len, err, sizeof err));
    assert_string_equal(err, "team is longer than 64 bytes");
    free(buf);
    free(long_id);
    free(long_text);
}

static Cdof__V1__QueryRequest *roundtrip_request(const Cdof__V1__QueryRequest *q, char *err,
                                                 size_t errlen)
{
    size_t len;
    uint8_t *buf = pack(q, &len);
    Cdof__V1__QueryRequest *d = cdof_wire_query_request_decode(buf, len, err, errlen);
    free(buf);
    return d;
}

static void test_query_request(void **state)
{
    (void)state;
    char err[256];
    Cdof__V1__QueryRequest q = CDOF__V1__QUERY_REQUEST__INIT;
    q.request_id = 5;
    assert_null(roundtrip_request(&q, err, sizeof err));
    assert_string_equal(err, "query request has no query");

    Cdof__V1__AreaQuery area = CDOF__V1__AREA_QUERY__INIT;
    area.area_code = "E06000001";
    q.query_case = CDOF__V1__QUERY_REQUEST__QUERY_AREA;
    q.area = &area;
    Cdof__V1__QueryRequest *d = roundtrip_request(&q, err, sizeof err);
    assert_non_null(d);
    assert_string_equal(d->area->area_code, "E06000001");
    assert_int_equal(d->request_id, 5);
    cdof__v1__query_request__free_unpacked(d, NULL);
    char *long_id = repeat('E', CDOF_WIRE_MAX_ID + 1);
    area.area_code = long_id;
    assert_null(roundtrip_request(&q, err, sizeof err));
    assert_string_equal(err, "area_code is longer than 64 bytes");

    Cdof__V1__LeagueQuery league = CDOF__V1__LEAGUE_QUERY__INIT;
    league.metric_id = "continuity_of_care";
    league.period = "2024-03";
    q.query_case = CDOF__V1__QUERY_REQUEST__QUERY_LEAGUE;
    q.league = &league;
    d = roundtrip_request(&q, err, sizeof err);
    assert_non_null(d);
    assert_string_equal(d->league->period, "2024-03");
    cdof__v1__query_request__free_unpacked(d, NULL);
    league.period = long_id;
    assert_null(roundtrip_request(&q, err, sizeof err));

    Cdof__V1__SeriesQuery series = CDOF__V1__SERIES_QUERY__INIT;
    series.metric_id = long_id;
    q.query_case = CDOF__V1__QUERY_REQUEST__QUERY_SERIES;
    q.series = &series;
    assert_null(roundtrip_request(&q, err, sizeof err));
    series.metric_id = "continuity_of_care";
    series.area_code = "E06000001";
    d = roundtrip_request(&q, err, sizeof err);
    assert_non_null(d);
    cdof__v1__query_request__free_unpacked(d, NULL);

    Cdof__V1__AlertsQuery alerts = CDOF__V1__ALERTS_QUERY__INIT;
    char *long_text = repeat('/', CDOF_WIRE_MAX_TEXT + 1);
    alerts.topic_prefix = long_text;
    q.query_case = CDOF__V1__QUERY_REQUEST__QUERY_ALERTS;
    q.alerts = &alerts;
    assert_null(roundtrip_request(&q, err, sizeof err));
    assert_string_equal(err, "topic_prefix is longer than 1024 bytes");
    alerts.topic_prefix = "alert/ohid/";
    alerts.since_sequence = 99;
    d = roundtrip_request(&q, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(d->alerts->since_sequence, 99);
    cdof__v1__query_request__free_unpacked(d, NULL);

    const Cdof__V1__QueryRequest__QueryCase flags[] = {
        CDOF__V1__QUERY_REQUEST__QUERY_AGENTS, CDOF__V1__QUERY_REQUEST__QUERY_NATIONAL,
        CDOF__V1__QUERY_REQUEST__QUERY_MILESTONES, CDOF__V1__QUERY_REQUEST__QUERY_HEALTH};
    for (size_t i = 0; i < 4; i++) {
        Cdof__V1__QueryRequest f = CDOF__V1__QUERY_REQUEST__INIT;
        f.query_case = flags[i];
        f.agents = 1; /* the union's bool */
        d = roundtrip_request(&f, err, sizeof err);
        assert_non_null(d);
        assert_int_equal(d->query_case, flags[i]);
        cdof__v1__query_request__free_unpacked(d, NULL);
    }
    q.query_case = CDOF__V1__QUERY_REQUEST__QUERY_AGENTS;
    q.agents = 1;
    q.page_token = long_text;
    assert_null(roundtrip_request(&q, err, sizeof err));
    assert_string_equal(err, "page_token is longer than 1024 bytes");
    free(long_id);
    free(long_text);
}

static void test_query_response(void **state)
{
    (void)state;
    char err[256];
    /* Enough rows to pass 64 KiB: responses have their own, larger limit. */
    enum { NROWS = 2000 };
    Cdof__V1__ComparisonRow *rows = calloc(NROWS, sizeof *rows);
    Cdof__V1__ComparisonRow **rowp = calloc(NROWS, sizeof *rowp);
    assert_non_null(rows);
    assert_non_null(rowp);
    Cdof__V1__Period pm;
    cdof_period_t p = P("2024-03");
    cdof_wire_period_to_msg(&p, &pm);
    for (size_t i = 0; i < NROWS; i++) {
        cdof__v1__comparison_row__init(&rows[i]);
        rows[i].metric_id = "continuity_of_care";
        rows[i].area_code = "E06000001";
        rows[i].area_name = "Hartlepool";
        rows[i].period = &pm;
        rows[i].value = (double)i;
        rows[i].vs_england = CDOF__V1__VERDICT__VERDICT_SIMILAR;
        rowp[i] = &rows[i];
    }
    Cdof__V1__AgentStatus ag = CDOF__V1__AGENT_STATUS__INIT;
    ag.agent_id = "E06000001";
    Cdof__V1__AgentStatus *agp = &ag;
    Cdof__V1__QueryResponse r = CDOF__V1__QUERY_RESPONSE__INIT;
    r.request_id = 9;
    r.status = CDOF__V1__QUERY_STATUS__QUERY_STATUS_OK;
    r.rows = rowp;
    r.n_rows = NROWS;
    r.agents = &agp;
    r.n_agents = 1;
    size_t len;
    uint8_t *buf = pack(&r, &len);
    assert_true(len > CDOF_WIRE_MAX_MESSAGE);
    Cdof__V1__QueryResponse *d = cdof_wire_query_response_decode(buf, len, err, sizeof err);
    free(buf);
    if (!d)
        fail_msg("%s", err);
    assert_int_equal(d->n_rows, NROWS);
    assert_true(d->rows[NROWS - 1]->value == NROWS - 1);
    assert_int_equal(d->rows[7]->vs_england, CDOF__V1__VERDICT__VERDICT_SIMILAR);
    cdof__v1__query_response__free_unpacked(d, NULL);

    /* A malformed period in one row, a long name, a long agent id, a long error. */
    r.n_rows = 3;
    Cdof__V1__Period badp = pm;
    badp.first_day++;
    rows[2].period = &badp;
    buf = pack(&r, &len);
    assert_null(cdof_wire_query_response_decode(buf, len, err, sizeof err));
    assert_non_null(strstr(err, "row period"));
    free(buf);
    rows[2].period = NULL;
    char *long_text = repeat('n', CDOF_WIRE_MAX_TEXT + 1);
    rows[1].area_name = long_text;
    buf = pack(&r, &len);
    assert_null(cdof_wire_query_response_decode(buf, len, err, sizeof err));
    assert_string_equal(err, "row area_name is longer than 1024 bytes");
    free(buf);
    rows[1].area_name = "";
    char *long_id = repeat('a', CDOF_WIRE_MAX_ID + 1);
    ag.agent_id = long_id;
    buf = pack(&r, &len);
    assert_null(cdof_wire_query_response_decode(buf, len, err, sizeof err));
    assert_string_equal(err, "agent_id is longer than 64 bytes");
    free(buf);
    ag.agent_id = "x";
    r.error = long_text;
    buf = pack(&r, &len);
    assert_null(cdof_wire_query_response_decode(buf, len, err, sizeof err));
    assert_string_equal(err, "error is longer than 1024 bytes");
    free(buf);
    r.error = "";
    /* An alert inside a response is checked like a published one. */
    Cdof__V1__Alert al = CDOF__V1__ALERT__INIT;
    al.rule = long_id;
    Cdof__V1__Alert *alp = &al;
    r.alerts = &alp;
    r.n_alerts = 1;
    buf = pack(&r, &len);
    assert_null(cdof_wire_query_response_decode(buf, len, err, sizeof err));
    assert_string_equal(err, "rule is longer than 64 bytes");
    free(buf);
    uint8_t *huge = calloc(1, CDOF_WIRE_MAX_RESPONSE + 1);
    assert_non_null(huge);
    assert_null(cdof_wire_query_response_decode(huge, CDOF_WIRE_MAX_RESPONSE + 1, err, sizeof err));
    assert_non_null(strstr(err, "is larger than the limit"));
    free(huge);
    free(long_id);
    free(long_text);
    free(rows);
    free(rowp);
}

static void test_verdict_names(void **state)
{
    (void)state;
    const char *want[] = {"not_compared", "better", "similar", "worse",
                          "best",         "worst",  "higher",  "lower"};
    for (int v = 0; v < 8; v++) {
        assert_string_equal(cdof_wire_verdict_name((Cdof__V1__Verdict)v), want[v]);
        Cdof__V1__Verdict back = CDOF__V1__VERDICT__VERDICT_BEST;
        assert_int_equal(cdof_wire_verdict_from_name(want[v], &back), 0);
        assert_int_equal(back, v);
    }
    assert_int_equal(CDOF__V1__VERDICT__VERDICT_WORSE, 3);
    assert_string_equal(cdof_wire_verdict_name((Cdof__V1__Verdict)8), "not_compared");
    assert_string_equal(cdof_wire_verdict_name((Cdof__V1__Verdict)-1), "not_compared");
    Cdof__V1__Verdict v;
    assert_int_equal(cdof_wire_verdict_from_name("Worse", &v), -EINVAL);
    assert_int_equal(cdof_wire_verdict_from_name(NULL, &v), -EINVAL);
}

/* The alert topic PROTOCOL.md gives, and a short buffer cut and terminated. */
static void test_alert_topic(void **state)
{
    (void)state;
    char t[48];
    assert_int_equal(cdof_wire_alert_topic("police", "E12000002", "E06000009", t, sizeof t), 32);
    assert_string_equal(t, "alert/police/E12000002/E06000009");
    char small[10];
    assert_true(cdof_wire_alert_topic("police", "E12000002", "E06000009", small, sizeof small) >=
                sizeof small);
    assert_string_equal(small, "alert/pol");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_empty),
        cmocka_unit_test(test_update_round_trip),
        cmocka_unit_test(test_update_to_msg_presence),
        cmocka_unit_test(test_period_msg),
        cmocka_unit_test(test_envelope_bodies),
        cmocka_unit_test(test_envelope_update_bounds),
        cmocka_unit_test(test_envelope_hostile_buffers),
        cmocka_unit_test(test_ack),
        cmocka_unit_test(test_alert),
        cmocka_unit_test(test_query_request),
        cmocka_unit_test(test_query_response),
        cmocka_unit_test(test_verdict_names),
        cmocka_unit_test(test_alert_topic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
