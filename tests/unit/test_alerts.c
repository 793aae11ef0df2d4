/* The alert lifecycle (hub_alerts) on a real LMDB store in a temporary directory: findings
 * settled into alerts. A bad finding raises one FIRING record, repeating it raises nothing, a
 * good one resolves it; consecutive periods, older periods, silences, inhibition by overdue
 * data, notices once muting ends, acknowledgements and sequences across a reopen. No sockets:
 * what would be published is collected. */
#define _XOPEN_SOURCE 700 /* nftw, fmemopen */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cdof_clock.h"
#include "cdof_error.h"
#include "cdof_wire.h"
#include "hub_alerts.h"
#include "hub_findings.h"
#include "hub_rules.h"
#include "hub_silences.h"

#define RULES                                                                                      \
    "[worse_than_england]\nlevel = 95\n"                                                           \
    "[two_in_a_row]\nkind = worse_than_england\nlevel = 95\nconsecutive = 2\n"                     \
    "[data_overdue]\nmetrics = all\n"

#define AREA "E06000009" /* Blackpool, North West */
#define SENT 16          /* published changes kept */

typedef struct {
    char topic[96];
    Cdof__V1__Alert *alert;
} sent_t;

typedef struct {
    char dir[64];
    cdof_ref_t *ref;
    cdof_store_t *store;
    hub_alerts_t *alerts;
    sent_t sent[SENT];
    size_t nsent;
} fixture_t;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int open_alerts(fixture_t *f)
{
    char err[512] = "";
    FILE *in = fmemopen((void *)RULES, strlen(RULES), "r");
    hub_rules_t *rules = NULL;
    int rc = in ? hub_rules_parse(in, "rules.ini", f->ref, 0.998, &rules, err, sizeof err) : -1;
    if (in)
        fclose(in);
    if (rc == 0)
        rc = hub_alerts_open(f->store, f->ref, rules, 30, &f->alerts);
    if (rc < 0)
        print_error("open: %s\n", err[0] ? err : cdof_strerror(rc));
    return rc;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    cdof_store_opts_t so = {.schema = "hub", .schema_version = 1, .no_sync = true};
    char err[512] = "";
    if (!f)
        return -1;
    *state = f;
    strcpy(f->dir, "/tmp/cdof-test-alerts-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    int rc = (f->ref = cdof_ref_load(CDOF_REF_DIR, err, sizeof err)) ? 0 : CDOF_EINVALID;
    if (rc == 0)
        rc = cdof_store_open(f->dir, &so, &f->store, err, sizeof err);
    if (rc < 0) {
        print_error("setup: %s\n", err[0] ? err : cdof_strerror(rc));
        return -1;
    }
    return open_alerts(f) < 0 ? -1 : 0;
}

static void forget_sent(fixture_t *f)
{
    for (size_t i = 0; i < f->nsent; i++)
        cdof__v1__alert__free_unpacked(f->sent[i].alert, NULL);
    f->nsent = 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    forget_sent(f);
    hub_alerts_destroy(&f->alerts);
    cdof_store_close(&f->store);
    cdof_ref_destroy(&f->ref);
    nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void collect(void *ctx, const char *topic, const uint8_t *alert, size_t len)
{
    fixture_t *f = ctx;
    char err[128];
    assert_true(f->nsent < SENT);
    sent_t *s = &f->sent[f->nsent++];
    snprintf(s->topic, sizeof s->topic, "%s", topic);
    s->alert = cdof_wire_alert_decode(alert, len, err, sizeof err);
    assert_non_null(s->alert);
}

static const hub_rule_t *rule(fixture_t *f, const char *name)
{
    const hub_rules_t *rules = hub_alerts_rules(f->alerts);
    for (size_t i = 0; i < hub_rules_count(rules); i++) {
        if (!strcmp(hub_rules_at(rules, i)->name, name))
            return hub_rules_at(rules, i);
    }
    fail_msg("no rule %s", name);
    return NULL;
}

/* A finding of rule for continuity_of_care in Blackpool, for the month starting on first_day. */
static hub_finding_t finding(fixture_t *f, const char *rule_name, const char *month, bool bad)
{
    hub_finding_t fd;
    char err[128];
    memset(&fd, 0, sizeof fd);
    fd.rule = rule(f, rule_name);
    const cdof_metric_t *m = cdof_ref_metric(f->ref, "continuity_of_care");
    assert_non_null(m);
    snprintf(fd.subject, sizeof fd.subject, "%s", m->id);
    snprintf(fd.key_area, sizeof fd.key_area, "%s", AREA);
    fd.area = cdof_ref_area(f->ref, AREA);
    fd.team = m->team;
    fd.metric_id = m->id;
    fd.has_period = true;
    assert_int_equal(cdof_period_parse(month, &fd.period, err, sizeof err), 0);
    fd.periodic = true;
    fd.bad = bad;
    fd.underperformance = fd.rule->kind == HUB_RULE_WORSE_THAN_ENGLAND;
    fd.value = bad ? 10 : 40;
    fd.verdict = bad ? CDOF_VERDICT_WORSE : CDOF_VERDICT_SIMILAR;
    snprintf(fd.fire, sizeof fd.fire, "%s is worse in %s", AREA, month);
    snprintf(fd.clear, sizeof fd.clear, "%s is no longer worse in %s", AREA, month);
    return fd;
}

/* Settles the findings in one committed transaction and returns how many changes it published
 * (kept in f->sent from index 0). */
static size_t settle(fixture_t *f, const hub_finding_t *fd, size_t n)
{
    cdof_store_txn_t *txn = NULL;
    forget_sent(f);
    hub_alerts_begin(f->alerts);
    assert_int_equal(cdof_store_begin(f->store, true, &txn), 0);
    assert_int_equal(hub_alerts_settle_all(f->alerts, txn, fd, n), 0);
    assert_int_equal(cdof_store_commit(&txn), 0);
    return hub_alerts_publish(f->alerts, collect, f);
}

static size_t renotify(fixture_t *f)
{
    cdof_store_txn_t *txn = NULL;
    forget_sent(f);
    hub_alerts_begin(f->alerts);
    assert_int_equal(cdof_store_begin(f->store, true, &txn), 0);
    assert_int_equal(hub_alerts_renotify(f->alerts, txn), 0);
    assert_int_equal(cdof_store_commit(&txn), 0);
    return hub_alerts_publish(f->alerts, collect, f);
}

static void test_raise_repeat_clear(void **state)
{
    fixture_t *f = *state;
    uint64_t first = hub_alerts_next_sequence(f->alerts);
    assert_int_equal(first, 1);
    hub_finding_t bad = finding(f, "worse_than_england", "2024-05", true);
    assert_int_equal(settle(f, &bad, 1), 1);
    const Cdof__V1__Alert *a = f->sent[0].alert;
    assert_int_equal(a->state, CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING);
    assert_int_equal(a->sequence, first);
    assert_string_equal(a->dedupe_key, "worse_than_england|continuity_of_care|" AREA);
    assert_string_equal(a->region_code, "E12000002");
    assert_string_equal(a->muted_by, "");
    assert_int_equal(a->consecutive, 1);
    assert_non_null(a->period);
    char topic[96];
    cdof_wire_alert_topic(a->team, a->region_code, a->area_code, topic, sizeof topic);
    assert_string_equal(f->sent[0].topic, topic);
    assert_int_equal(hub_alerts_next_sequence(f->alerts), first + 1);

    /* The same finding again, and the next period still bad: no new record. */
    assert_int_equal(settle(f, &bad, 1), 0);
    hub_finding_t june = finding(f, "worse_than_england", "2024-06", true);
    assert_int_equal(settle(f, &june, 1), 0);
    /* An older period judged late changes nothing, good or bad. */
    hub_finding_t april = finding(f, "worse_than_england", "2024-04", false);
    assert_int_equal(settle(f, &april, 1), 0);

    hub_finding_t good = finding(f, "worse_than_england", "2024-07", false);
    assert_int_equal(settle(f, &good, 1), 1);
    a = f->sent[0].alert;
    assert_int_equal(a->state, CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED);
    assert_int_equal(a->severity, CDOF__V1__SEVERITY__SEVERITY_INFO);
    assert_int_equal(a->fired_sequence, first);
    assert_int_equal(a->sequence, first + 1);
    assert_string_equal(a->summary, AREA " is no longer worse in 2024-07");
    assert_int_equal(settle(f, &good, 1), 0);

    /* Sequences survive a reopen: the next is one past the last stored. */
    hub_alerts_destroy(&f->alerts);
    assert_int_equal(open_alerts(f), 0);
    assert_int_equal(hub_alerts_next_sequence(f->alerts), first + 2);
}

static void test_consecutive(void **state)
{
    fixture_t *f = *state;
    hub_finding_t may = finding(f, "two_in_a_row", "2024-05", true);
    assert_int_equal(settle(f, &may, 1), 0);
    hub_finding_t june = finding(f, "two_in_a_row", "2024-06", true);
    assert_int_equal(settle(f, &june, 1), 1);
    assert_int_equal(f->sent[0].alert->consecutive, 2);
    /* Judged again (a revision of June, still bad): the streak stays at two, no new record. */
    assert_int_equal(settle(f, &june, 1), 0);
}

static void test_discard(void **state)
{
    fixture_t *f = *state;
    cdof_store_txn_t *txn = NULL;
    hub_finding_t bad = finding(f, "worse_than_england", "2024-05", true);
    hub_alerts_begin(f->alerts);
    assert_int_equal(cdof_store_begin(f->store, true, &txn), 0);
    assert_int_equal(hub_alerts_settle(f->alerts, txn, &bad), 0);
    assert_true(hub_alerts_writes(f->alerts) > 0);
    cdof_store_abort(&txn);
    hub_alerts_discard(f->alerts);
    assert_int_equal(hub_alerts_publish(f->alerts, collect, f), 0);
    assert_int_equal(hub_alerts_next_sequence(f->alerts), 1);
    /* Nothing was stored: the same finding fires, with the first sequence. */
    assert_int_equal(settle(f, &bad, 1), 1);
    assert_int_equal(f->sent[0].alert->sequence, 1);
}

static void test_silence(void **state)
{
    fixture_t *f = *state;
    char err[256] = "";
    Cdof__V1__Silence s = CDOF__V1__SILENCE__INIT, *rec = NULL;
    s.matcher = "worse_than_england|*|" AREA;
    s.until_ms = cdof_clock_now_ms() + 3600 * 1000;
    s.by = "A. Person";
    s.reason = "known: data being corrected";
    hub_silences_t *sl = hub_alerts_silences(f->alerts);
    assert_int_equal(hub_silences_add(sl, NULL, &s, &rec, err, sizeof err), 0);
    uint64_t silence_id = rec->id;
    cdof__v1__silence__free_unpacked(rec, NULL);

    /* Fires muted: stored and handed out, marked with the silence. */
    hub_finding_t bad = finding(f, "worse_than_england", "2024-05", true);
    assert_int_equal(settle(f, &bad, 1), 1);
    uint64_t fired = f->sent[0].alert->sequence;
    assert_int_equal(f->sent[0].alert->state, CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING);
    assert_non_null(strstr(f->sent[0].alert->muted_by, "silenced until"));
    /* While the silence holds, nothing is notified again. */
    assert_int_equal(renotify(f), 0);

    /* Ended while the alert still fires: an unmuted FIRING follows, pointing at the first. */
    Cdof__V1__Unsilence u = CDOF__V1__UNSILENCE__INIT;
    u.id = silence_id;
    u.by = "A. Person";
    assert_int_equal(hub_silences_end(sl, NULL, &u, &rec, err, sizeof err), 0);
    cdof__v1__silence__free_unpacked(rec, NULL);
    assert_int_equal(renotify(f), 1);
    const Cdof__V1__Alert *a = f->sent[0].alert;
    assert_int_equal(a->state, CDOF__V1__ALERT_STATE__ALERT_STATE_FIRING);
    assert_string_equal(a->muted_by, "");
    assert_int_equal(a->fired_sequence, fired);
    assert_int_equal(renotify(f), 0);

    /* Resolved: a notice, unmuted, since the firing was told in the end. */
    hub_finding_t good = finding(f, "worse_than_england", "2024-06", false);
    assert_int_equal(settle(f, &good, 1), 1);
    assert_int_equal(f->sent[0].alert->state, CDOF__V1__ALERT_STATE__ALERT_STATE_RESOLVED);
    assert_string_equal(f->sent[0].alert->muted_by, "");
}

/* Silences an older hub stored by matcher ("alert_silences") become numbered records when the
 * alerts open, leave the old database empty, mute as before, and are moved only once. */
static void test_silence_legacy(void **state)
{
    fixture_t *f = *state;
    hub_alerts_destroy(&f->alerts);
    const char *matchers[2] = {"data_overdue|*|" AREA, "worse_than_england|*|" AREA};
    cdof_store_db_t legacy;
    cdof_store_txn_t *txn = NULL;
    assert_int_equal(cdof_store_db(f->store, "alert_silences", &legacy), 0);
    assert_int_equal(cdof_store_begin(f->store, true, &txn), 0);
    for (int i = 0; i < 2; i++) {
        Cdof__V1__Silence s = CDOF__V1__SILENCE__INIT;
        s.matcher = (char *)matchers[i];
        s.until_ms = cdof_clock_now_ms() + 3600 * 1000;
        s.by = "A. Person";
        s.reason = "from an older hub";
        uint8_t buf[512];
        size_t n = cdof__v1__silence__pack(&s, buf);
        assert_int_equal(cdof_store_put(txn, legacy, matchers[i], strlen(matchers[i]), buf, n), 0);
    }
    assert_int_equal(cdof_store_commit(&txn), 0);

    for (int open = 0; open < 2; open++) { /* the second open finds nothing left to move */
        hub_alerts_destroy(&f->alerts);
        assert_int_equal(open_alerts(f), 0);
        hub_silences_t *sl = hub_alerts_silences(f->alerts);
        Cdof__V1__Silence **items = NULL;
        size_t n = 0;
        uint64_t left = 1;
        char why[256];
        assert_int_equal(cdof_store_begin(f->store, false, &txn), 0);
        assert_int_equal(hub_silences_list(sl, txn, true, &items, &n), 0);
        assert_int_equal(cdof_store_count(txn, legacy, &left), 0);
        assert_int_equal(hub_silences_match(sl, txn, "worse_than_england|drug_deaths|" AREA, "ohid",
                                            "E12000002", why, sizeof why),
                         0);
        cdof_store_abort(&txn);
        assert_int_equal(n, 2);
        assert_int_equal(left, 0);
        assert_true(items[0]->id != items[1]->id);
        assert_string_equal(items[0]->matcher, matchers[0]);
        assert_string_equal(items[1]->matcher, matchers[1]);
        assert_non_null(strstr(why, "silenced until"));
        for (size_t i = 0; i < n; i++)
            cdof__v1__silence__free_unpacked(items[i], NULL);
        free(items);
    }
}

/* A firing data_overdue for the area mutes its underperformance alerts; the resolution of a
 * firing nobody was told of is muted too. */
static void test_inhibition(void **state)
{
    fixture_t *f = *state;
    hub_finding_t overdue = finding(f, "data_overdue", "2024-07", true);
    overdue.underperformance = false;
    hub_finding_t bad = finding(f, "worse_than_england", "2024-05", true);
    hub_finding_t both[2] = {overdue, bad};
    assert_int_equal(settle(f, both, 2), 2);
    assert_string_equal(f->sent[0].alert->muted_by, "");
    assert_non_null(strstr(f->sent[1].alert->muted_by,
                           "inhibited while data_overdue|continuity_of_care|" AREA));
    uint64_t fired = f->sent[1].alert->sequence;

    hub_finding_t good = finding(f, "worse_than_england", "2024-06", false);
    assert_int_equal(settle(f, &good, 1), 1);
    char want[64];
    snprintf(want, sizeof want, "its firing #%llu was muted", (unsigned long long)fired);
    assert_string_equal(f->sent[0].alert->muted_by, want);
}

static void test_ack(void **state)
{
    fixture_t *f = *state;
    char err[256] = "";
    hub_finding_t bad = finding(f, "worse_than_england", "2024-05", true);
    assert_int_equal(settle(f, &bad, 1), 1);
    uint64_t fired = f->sent[0].alert->sequence;

    Cdof__V1__AlertAck ack = CDOF__V1__ALERT_ACK__INIT;
    Cdof__V1__Alert *out = NULL;
    ack.sequence = fired;
    ack.by = "B. Person";
    ack.note = "looking into it";
    forget_sent(f);
    assert_int_equal(hub_alerts_ack(f->alerts, NULL, &ack, &out, err, sizeof err), 0);
    assert_int_equal(out->state, CDOF__V1__ALERT_STATE__ALERT_STATE_ACKNOWLEDGED);
    assert_int_equal(out->fired_sequence, fired);
    assert_int_equal(out->sequence, fired + 1);
    assert_string_equal(out->acknowledged_by, "B. Person");
    assert_non_null(strstr(out->summary, "looking into it"));
    cdof__v1__alert__free_unpacked(out, NULL);
    assert_int_equal(hub_alerts_publish(f->alerts, collect, f), 1);
    assert_int_equal(f->sent[0].alert->sequence, fired + 1);

    /* Nobody names themselves: refused. */
    ack.by = "";
    assert_int_equal(hub_alerts_ack(f->alerts, NULL, &ack, &out, err, sizeof err), CDOF_EINVALID);
    ack.by = "B. Person";
    /* No such alert. */
    ack.sequence = 999;
    assert_int_equal(hub_alerts_ack(f->alerts, NULL, &ack, &out, err, sizeof err), CDOF_ENOTFOUND);
    assert_non_null(strstr(err, "#999"));
    /* Resolved: no longer firing, so not acknowledged. */
    hub_finding_t good = finding(f, "worse_than_england", "2024-06", false);
    assert_int_equal(settle(f, &good, 1), 1);
    ack.sequence = fired;
    assert_int_equal(hub_alerts_ack(f->alerts, NULL, &ack, &out, err, sizeof err), CDOF_EINVALID);
    assert_non_null(strstr(err, "not firing"));
    assert_null(out);
    assert_int_equal(hub_alerts_publish(f->alerts, collect, f), 0);
}

static int count_second(void *ctx, const cdof_bytes_t *k, const cdof_bytes_t *v)
{
    (void)v;
    assert_int_equal(k->len, 8);
    assert_int_equal(cdof_store_rd64(k->data), 2);
    (*(uint64_t *)ctx)++;
    return 0;
}

/* The catch-up cursor reads the records from a sequence on. */
static void test_scan(void **state)
{
    fixture_t *f = *state;
    hub_finding_t bad = finding(f, "worse_than_england", "2024-05", true);
    hub_finding_t good = finding(f, "worse_than_england", "2024-06", false);
    assert_int_equal(settle(f, &bad, 1), 1);
    assert_int_equal(settle(f, &good, 1), 1);
    cdof_store_txn_t *txn = NULL;
    assert_int_equal(cdof_store_begin(f->store, false, &txn), 0);
    uint64_t n = 0;
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t key, val;
    int rc;
    for (rc = hub_alerts_seek(f->alerts, txn, 2, &c, &key, &val); rc > 0;
         rc = cdof_store_cursor_next(c, &key, &val))
        assert_int_equal(count_second(&n, &key, &val), 0);
    assert_int_equal(rc, 0);
    cdof_store_cursor_close(&c);
    cdof_store_abort(&txn);
    assert_int_equal(n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_raise_repeat_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consecutive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silence_legacy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inhibition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
