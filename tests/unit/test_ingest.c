/* Ingest's batch (hub_ingest.h) on a real LMDB store in a temporary directory, without sockets:
 * envelopes are taken as the ROUTER socket would hand them over, committed, and the acks the
 * hub would send collected. The contract of PROTOCOL.md "Ingest": accepted, duplicate, a gap
 * asks for a resend, a rejection moves the mark and is remembered, a sequence far ahead is
 * refused without moving it, the sender's scope and the period's arrival are checked, a heartbeat
 * learns the mark; and ingest only marks what it wrote for settling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_clock.h"
#include "cdof_compare.h"
#include "cdof_error.h"
#include "cdof_wire.h"
#include "hub.h"
#include "hub_db.h"
#include "hub_fixture.h"
#include "hub_ingest.h"
#include "hub_keys.h"
#include "hub_results.h"

#define AGENT "nw-test"
#define AREA  "E06000009"
#define ACKS  8
/* A valid Z85 public key (ZeroMQ's RFC 32 example): the registry checks the form only. */
#define KEY "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"

typedef struct {
    hub_fixture_t fx;
    hub_batch_t *batch;
    hub_keys_t *keys;
    Cdof__V1__Ack *acks[ACKS];
    size_t nacks;
    /* Envelopes of one batch and what they point at. */
    Cdof__V1__Envelope env[8];
    Cdof__V1__MetricUpdate mu[8];
    Cdof__V1__Period per[8];
    Cdof__V1__Heartbeat hb;
    size_t nenv;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    char err[512] = "";
    const char *registry = "public_key,id,role,partnership,areas\n" KEY ",nw-test,partnership,"
                           "nw-test," AREA "\n";
    *state = f;
    if (!f || hub_fixture_open(&f->fx, 1500) < 0)
        return -1;
    hub_t *hub = &f->fx.hub;
    int rc = hub_keys_parse("reg.csv", registry, strlen(registry), hub->ref, NULL, 0, &f->keys, err,
                            sizeof err);
    if (rc == 0)
        rc = hub_batch_new(hub, &f->batch);
    if (rc < 0)
        print_error("setup: %s\n", err[0] ? err : cdof_strerror(rc));
    return rc < 0 ? -1 : 0;
}

static void forget_acks(fixture_t *f)
{
    for (size_t i = 0; i < f->nacks; i++)
        cdof__v1__ack__free_unpacked(f->acks[i], NULL);
    f->nacks = 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    forget_acks(f);
    hub_batch_destroy(&f->batch);
    hub_keys_destroy(&f->keys);
    hub_fixture_close(&f->fx);
    free(f);
    return 0;
}

static void collect(void *ctx, const uint8_t *rid, size_t rid_len, const Cdof__V1__Ack *ack)
{
    fixture_t *f = ctx;
    assert_int_equal(rid_len, 4);
    assert_memory_equal(rid, "conn", 4);
    assert_true(f->nacks < ACKS);
    uint8_t *buf;
    size_t len;
    assert_int_equal(cdof_wire_pack(&ack->base, &buf, &len), 0);
    f->acks[f->nacks] = cdof__v1__ack__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(f->acks[f->nacks++]);
}

/* Adds an update of continuity_of_care (num of 100) for area in month to the next batch. */
static void update(fixture_t *f, uint64_t seq, const char *metric, const char *area,
                   const char *month, double num)
{
    char err[128];
    cdof_period_t p;
    size_t i = f->nenv++;
    assert_true(i < 8);
    assert_int_equal(cdof_period_parse(month, &p, err, sizeof err), 0);
    cdof__v1__period__init(&f->per[i]);
    cdof_wire_period_to_msg(&p, &f->per[i]);
    cdof__v1__metric_update__init(&f->mu[i]);
    f->mu[i].metric_id = (char *)metric;
    f->mu[i].area_code = (char *)area;
    f->mu[i].period = &f->per[i];
    f->mu[i].has_numerator = f->mu[i].has_denominator = true;
    f->mu[i].numerator = num;
    f->mu[i].denominator = 100;
    cdof__v1__envelope__init(&f->env[i]);
    f->env[i].agent_id = AGENT;
    f->env[i].sequence = seq;
    f->env[i].body_case = CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE;
    f->env[i].metric_update = &f->mu[i];
}

/* Takes the envelopes added (from party, with bad as every envelope's reason to reject),
 * commits, and collects the acks. */
static void commit_as(fixture_t *f, const hub_party_t *party, const char *bad)
{
    forget_acks(f);
    hub_batch_clear(f->batch);
    for (size_t i = 0; i < f->nenv; i++)
        assert_int_equal(
            hub_batch_take(f->batch, (const uint8_t *)"conn", 4, &f->env[i], bad, party), 0);
    f->nenv = 0;
    assert_int_equal(hub_batch_commit(&f->fx.hub, f->batch), 0);
    hub_batch_acks(f->batch, collect, f);
    hub_batch_clear(f->batch);
}

static void commit(fixture_t *f)
{
    commit_as(f, NULL, "");
}

/* The one ack of the last batch, with n entries. */
static const Cdof__V1__Ack *ack(fixture_t *f, size_t n)
{
    assert_int_equal(f->nacks, 1);
    assert_int_equal(f->acks[0]->n_entries, n);
    return f->acks[0];
}

static uint64_t marks(fixture_t *f)
{
    return hub_fixture_marks(&f->fx);
}

static void test_accept_duplicate_gap(void **state)
{
    fixture_t *f = *state;
    update(f, 1, "continuity_of_care", AREA, "2024-05", 10);
    update(f, 2, "continuity_of_care", AREA, "2024-06", 12);
    commit(f);
    const Cdof__V1__Ack *a = ack(f, 2);
    assert_int_equal(a->entries[0]->status, CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED);
    assert_int_equal(a->entries[1]->sequence, 2);
    assert_int_equal(a->high_water, 2);
    assert_int_equal(a->resend_from, 0);
    /* Stored, and only marked for settling: no comparison was computed by ingest. */
    cdof_store_txn_t *txn = NULL;
    hub_point_t pt;
    cdof_period_t p;
    char err[128];
    assert_int_equal(cdof_period_parse("2024-05", &p, err, sizeof err), 0);
    assert_int_equal(cdof_store_begin(f->fx.hub.store, false, &txn), 0);
    assert_int_equal(hub_db_point_get(f->fx.hub.db, txn, "continuity_of_care", AREA, &p, &pt), 0);
    assert_true(pt.fig.numerator == 10 && pt.sequence == 1);
    cdof_compare_row_t row;
    assert_int_equal(hub_results_get(&f->fx.hub, txn,
                                     cdof_ref_metric(f->fx.hub.ref, "continuity_of_care"), &p,
                                     HUB_BASIS_REPORTED, AREA, &row),
                     CDOF_ENOTFOUND);
    cdof_store_abort(&txn);
    assert_int_equal(marks(f), 2);

    /* Sent again: a duplicate, nothing changes. */
    update(f, 2, "continuity_of_care", AREA, "2024-06", 99);
    commit(f);
    a = ack(f, 1);
    assert_int_equal(a->entries[0]->status, CDOF__V1__ACK_STATUS__ACK_STATUS_DUPLICATE);
    assert_int_equal(a->high_water, 2);

    /* Sequence 4 before 3: nothing stored, the ack asks for 3 on. */
    update(f, 4, "continuity_of_care", AREA, "2024-07", 10);
    commit(f);
    a = ack(f, 0);
    assert_int_equal(a->high_water, 2);
    assert_int_equal(a->resend_from, 3);
}

static void test_rejections(void **state)
{
    fixture_t *f = *state;
    /* A month two months ahead has not begun. */
    char ahead[16];
    cdof_date_format(cdof_clock_today() + 62, ahead, sizeof ahead);
    ahead[7] = '\0';
    update(f, 1, "no_such_metric", AREA, "2024-05", 10);
    update(f, 2, "continuity_of_care", AREA, ahead, 10);
    update(f, 3, "continuity_of_care", AREA, "2024-05", 120);
    commit(f);
    const Cdof__V1__Ack *a = ack(f, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(a->entries[i]->status, CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_non_null(strstr(a->entries[0]->reason, "no_such_metric"));
    assert_non_null(strstr(a->entries[1]->reason, "has not begun"));
    assert_non_null(strstr(a->entries[2]->reason, "numerator"));
    /* A rejection is settled: the mark moves, so one bad row never blocks the stream. */
    assert_int_equal(a->high_water, 3);
    char first[CDOF_WIRE_MAX_TEXT];
    snprintf(first, sizeof first, "%s", a->entries[0]->reason);
    assert_int_equal(marks(f), 0);

    /* Sent again, it is rejected again with the same reason, never taken for stored. */
    update(f, 1, "no_such_metric", AREA, "2024-05", 10);
    commit(f);
    a = ack(f, 1);
    assert_int_equal(a->entries[0]->status, CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_string_equal(a->entries[0]->reason, first);

    /* Far ahead of the mark: refused, and the mark stays. */
    update(f, 4 + 100000000ULL, "continuity_of_care", AREA, "2024-05", 10);
    commit(f);
    a = ack(f, 1);
    assert_int_equal(a->entries[0]->status, CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_non_null(strstr(a->entries[0]->reason, "jumps"));
    assert_int_equal(a->high_water, 3);

    /* Decodable but to be refused (bounds): rejected with the reason given. */
    update(f, 4, "continuity_of_care", AREA, "2024-05", 10);
    commit_as(f, NULL, "note is longer than 1024 bytes");
    a = ack(f, 1);
    assert_int_equal(a->entries[0]->status, CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_string_equal(a->entries[0]->reason, "note is longer than 1024 bytes");
    assert_int_equal(a->high_water, 4);
}

/* A partnership key may write only its own areas. */
static void test_scope(void **state)
{
    fixture_t *f = *state;
    const hub_party_t *party = hub_keys_find(f->keys, KEY);
    assert_non_null(party);
    update(f, 1, "continuity_of_care", AREA, "2024-05", 10);
    update(f, 2, "continuity_of_care", "E08000001", "2024-05", 10);
    commit_as(f, party, "");
    const Cdof__V1__Ack *a = ack(f, 2);
    assert_int_equal(a->entries[0]->status, CDOF__V1__ACK_STATUS__ACK_STATUS_ACCEPTED);
    assert_int_equal(a->entries[1]->status, CDOF__V1__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_non_null(strstr(a->entries[1]->reason, "E08000001"));
}

/* A heartbeat is answered with the mark; an idle agent that wrote more is asked to resend. */
static void test_heartbeat(void **state)
{
    fixture_t *f = *state;
    update(f, 1, "continuity_of_care", AREA, "2024-05", 10);
    commit(f);
    cdof__v1__heartbeat__init(&f->hb);
    f->hb.outbox_depth = 0;
    f->hb.high_water = 5;
    size_t i = f->nenv++;
    cdof__v1__envelope__init(&f->env[i]);
    f->env[i].agent_id = AGENT;
    f->env[i].body_case = CDOF__V1__ENVELOPE__BODY_HEARTBEAT;
    f->env[i].heartbeat = &f->hb;
    commit(f);
    const Cdof__V1__Ack *a = ack(f, 0);
    assert_true(a->heartbeat);
    assert_int_equal(a->high_water, 1);
    assert_int_equal(a->resend_from, 2);
    assert_true(f->fx.hub.counters.heartbeats == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accept_duplicate_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
