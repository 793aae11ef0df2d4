/* The hub's key registry: roles and the sockets they may use, areas (listed, from the hub's
 * partnerships, or the partnership itself), defaults, and a reason naming file:line and field
 * for every kind of bad line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include <cmocka.h>

#include "cdof_error.h"
#include "cdof_partnerships.h"
#include "cdof_ref.h"
#include "hub_keys.h"

static cdof_ref_t *ref;
static char k1[41], k2[41], k3[41], k4[41];

static int setup(void **state)
{
    (void)state;
    char err[512], sec[41];
    ref = cdof_ref_load(CDOF_REF_DIR, err, sizeof err);
    return ref && !zmq_curve_keypair(k1, sec) && !zmq_curve_keypair(k2, sec) &&
                   !zmq_curve_keypair(k3, sec) && !zmq_curve_keypair(k4, sec)
               ? 0
               : -1;
}

static int teardown(void **state)
{
    (void)state;
    cdof_ref_destroy(&ref);
    return 0;
}

static hub_keys_t *parse_ok(const char *text)
{
    hub_keys_t *keys = NULL;
    char err[512] = "";
    int rc = hub_keys_parse("reg.csv", text, strlen(text), ref, NULL, 0, &keys, err, sizeof err);
    if (rc != 0)
        fail_msg("registry refused: %s", err);
    return keys;
}

static void test_roles_and_areas(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text,
             "public_key,id,role,partnership,areas\r\n"
             "# comments and blank lines are skipped, commas, \"quotes\" and all\n\n"
             "  # la-b's \"spare key, see ticket 7\n"
             "%s,gm,partnership,greater_manchester,\"E08000001; E08000002 E08000003\"\n"
             "%s , E06000009 , partnership\n"
             "%s,ons,national\n"
             "%s,reader,oversight,,\n",
             k1, k2, k3, k4);
    hub_keys_t *keys = parse_ok(text);
    assert_int_equal(hub_keys_count(keys), 4);
    const hub_party_t *gm = hub_keys_find(keys, k1), *bp = hub_keys_find(keys, k2),
                      *ons = hub_keys_find(keys, k3), *nw = hub_keys_find(keys, k4);
    assert_non_null(gm);
    assert_string_equal(gm->id, "gm");
    assert_string_equal(gm->partnership, "greater_manchester");
    assert_int_equal(gm->role, HUB_ROLE_PARTNERSHIP);
    assert_false(gm->scope.national);
    assert_int_equal(gm->scope.nareas, 3);
    assert_string_equal(gm->scope.areas[2], "E08000003");
    /* One area, one partnership: the id is the partnership and its area. */
    assert_string_equal(bp->partnership, "E06000009");
    assert_int_equal(bp->scope.nareas, 1);
    assert_string_equal(bp->scope.areas[0], "E06000009");
    assert_true(ons->scope.national);
    assert_int_equal(nw->scope.nareas, 0);
    assert_true(hub_role_may_use(gm->role, "ingest"));
    assert_false(hub_role_may_use(gm->role, "query"));
    assert_false(hub_role_may_use(gm->role, "alerts"));
    assert_true(hub_role_may_use(ons->role, "ingest"));
    assert_false(hub_role_may_use(nw->role, "ingest"));
    assert_true(hub_role_may_use(nw->role, "alerts"));
    assert_true(hub_role_may_use(HUB_ROLE_JCDU, "query"));
    assert_false(hub_role_may_use(HUB_ROLE_JCDU, NULL));
    char missing[41];
    memcpy(missing, k1, sizeof missing);
    missing[0] = missing[0] == 'a' ? 'b' : 'a';
    assert_null(hub_keys_find(keys, missing));
    assert_null(hub_keys_find(keys, "short"));
    hub_keys_destroy(&keys);
    assert_null(keys);
    /* An empty registry admits nobody. */
    keys = parse_ok("");
    assert_int_equal(hub_keys_count(keys), 0);
    assert_null(hub_keys_find(keys, k1));
    hub_keys_destroy(&keys);
}

/* Who may acknowledge and silence what: a team and region, a team everywhere, JCDU
 * everything, a reader nothing. */
static void test_action_scope(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text,
             "%s,ohid-nw,oversight,ohid,E12000002\n%s,hmpps,oversight,hmpps\n%s,jcdu,jcdu\n"
             "%s,reader,oversight\n",
             k1, k2, k3, k4);
    hub_keys_t *keys = parse_ok(text);
    const hub_party_t *nw = hub_keys_find(keys, k1), *hm = hub_keys_find(keys, k2),
                      *jc = hub_keys_find(keys, k3), *rd = hub_keys_find(keys, k4);
    assert_string_equal(nw->team, "ohid");
    assert_string_equal(nw->region, "E12000002");
    assert_true(hub_party_covers(nw, "ohid", "E12000002"));
    assert_false(hub_party_covers(nw, "ohid", "E12000003"));
    assert_false(hub_party_covers(nw, "hmpps", "E12000002"));
    assert_false(hub_party_covers(nw, "ohid", "E92000001")); /* England's alerts: national */
    assert_true(hub_party_covers(hm, "hmpps", "E12000009"));
    assert_true(hub_party_covers(hm, "hmpps", "E92000001"));
    assert_false(hub_party_covers(hm, "ohid", "E12000009"));
    assert_true(hub_party_covers(jc, "police", "E92000001"));
    assert_false(rd->may_act);
    assert_false(hub_party_covers(rd, "ohid", "E12000002"));
    assert_true(hub_party_covers(NULL, "ohid", "E12000002")); /* --insecure */
    hub_keys_destroy(&keys);
}

static void expect_refused(const char *text, const char *reason_part)
{
    hub_keys_t *keys = (hub_keys_t *)1;
    char err[512] = "";
    int rc = hub_keys_parse("reg.csv", text, strlen(text), ref, NULL, 0, &keys, err, sizeof err);
    if (rc != CDOF_EINVALID)
        fail_msg("registry '%s' gave %d, not CDOF_EINVALID (%s)", text, rc, err);
    assert_null(keys);
    if (!strstr(err, reason_part))
        fail_msg("reason '%s' does not contain '%s'", err, reason_part);
}

static void test_bad_lines(void **state)
{
    (void)state;
    /* Each format gets two keys (k1, k2) and must be refused with a reason containing this. */
    static const struct {
        const char *fmt, *reason;
    } cases[] = {
        {"abc,la,partnership\n", "reg.csv:1: field 'public_key': 3 characters"},
        {"%s,la,partnership,,E06000009\n%.39s~,x,jcdu\n",
         "reg.csv:2: field 'public_key': not valid Z85"},
        {"\n%s,la 1,jcdu\n", "reg.csv:2: field 'id'"},
        {"%s,la,admin\n", "reg.csv:1: field 'role': 'admin' is not partnership"},
        {"%s,la,partnership,,E06000009;X99\n", "field 'areas': 'X99' is not a known area code"},
        {"%s,gm,partnership\n",
         "partnership 'gm' is neither in the partnerships file nor an area code"},
        {"%s,w,jcdu,,E06000009\n", "only a partnership has areas"},
        {"%s,w,oversight,ohid,E06000009\n", "field 'region': 'E06000009' is not a region code"},
        {"%s,w,oversight,,E12000002\n", "field 'region': given without a team"},
        {"%s,w,oversight,nhs\n", "field 'team': 'nhs' is no team of the metric catalogue"},
        {"%s,w\n", "reg.csv:1: 2 field(s)"},
        {"%s,w,jcdu,,,extra\n", "more than 5 fields"},
        {"%1$s,a,jcdu\n%1$s,b,oversight\n", "is listed twice (ids 'a' and 'b')"},
        /* A comment's quote must not swallow the keys after it. */
        {"# old,\"key\n%s,a,jcdu\n%s,b,jcdu\n", "reg.csv:1: field 2: quoted field not closed"},
        {"# old,\"key\n%s,a,jcdu\n\"\n%s,b,jcdu\n", "reg.csv:1: a quote in this comment runs on"},
        {"%s,\"a\nb\",jcdu\n", "reg.csv:1: field 'id'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, cases[i].fmt, k1, k2);
        expect_refused(text, cases[i].reason);
    }
    char nul[] = "#\0\n";
    hub_keys_t *keys = NULL;
    char err[256];
    assert_int_equal(hub_keys_parse("reg.csv", nul, 3, ref, NULL, 0, &keys, err, sizeof err),
                     CDOF_EINVALID);
    assert_non_null(strstr(err, "reg.csv:1: field 1: NUL byte"));
}

static bool has_area(const cdof_scope_t *scope, const char *code)
{
    for (size_t i = 0; i < scope->nareas; i++) {
        if (!strcmp(scope->areas[i], code))
            return true;
    }
    return false;
}

/* Partnership areas come from the hub's --partnerships: here "tees" is Hartlepool and
 * Middlesbrough. A line without areas takes the members; given ones must agree with the file. */
static void test_areas_from_partnerships(void **state)
{
    (void)state;
    const cdof_area_t *members[] = {cdof_ref_area(ref, "E06000001"),
                                    cdof_ref_area(ref, "E06000002")};
    const cdof_partnership_t tees = {
        .area = {.code = "tees", .name = "tees", .kind = CDOF_AREA_PARTNERSHIP},
        .members = members,
        .nmembers = 2};
    char text[1024], err[512] = "";
    snprintf(text, sizeof text,
             "%s,tees-agent,partnership,tees\n" /* named partnership: its members */
             "%s,tees,partnership\n"            /* the id is the partnership */
             "%s,E06000003,partnership\n"       /* in no partnership: the area itself */
             "%s,tees-2,partnership,tees,E06000002;E06000001\n", /* agreeing, any order */
             k1, k2, k3, k4);
    hub_keys_t *keys = NULL;
    assert_int_equal(
        hub_keys_parse("reg.csv", text, strlen(text), ref, &tees, 1, &keys, err, sizeof err), 0);
    const char *ks[] = {k1, k2, k4};
    for (size_t i = 0; i < 3; i++) {
        const hub_party_t *p = hub_keys_find(keys, ks[i]);
        assert_non_null(p);
        assert_string_equal(p->partnership, "tees");
        assert_int_equal(p->scope.nareas, 2);
        assert_true(has_area(&p->scope, "E06000001"));
        assert_true(has_area(&p->scope, "E06000002"));
        assert_false(has_area(&p->scope, "E06000003"));
    }
    const hub_party_t *solo = hub_keys_find(keys, k3);
    assert_int_equal(solo->scope.nareas, 1);
    assert_string_equal(solo->scope.areas[0], "E06000003");
    hub_keys_destroy(&keys);

    /* Disagreements with the file are refused naming the line. */
    static const struct {
        const char *fmt, *reason;
    } cases[] = {
        {"#\n%s,tees,partnership,tees,E06000001\n",
         "reg.csv:2: field 'areas': misses E06000002, which partnership 'tees' holds"},
        {"%s,tees,partnership,tees,E06000001;E06000003\n",
         "reg.csv:1: field 'areas': E06000003 is not in partnership 'tees'"},
        {"%s,x,partnership,other,E06000003;E06000002\n",
         "reg.csv:1: field 'areas': E06000002 belongs to partnership 'tees'"},
        {"%s,E06000001,partnership\n",
         "reg.csv:1: field 'partnership': area E06000001 is in partnership 'tees'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, cases[i].fmt, k1);
        keys = (hub_keys_t *)1;
        assert_int_equal(
            hub_keys_parse("reg.csv", text, strlen(text), ref, &tees, 1, &keys, err, sizeof err),
            CDOF_EINVALID);
        assert_null(keys);
        if (!strstr(err, cases[i].reason))
            fail_msg("reason '%s' does not contain '%s'", err, cases[i].reason);
    }
}

static void test_load_file(void **state)
{
    (void)state;
    hub_keys_t *keys = NULL;
    char err[512];
    assert_int_equal(hub_keys_load("/nonexistent/reg.csv", ref, NULL, 0, &keys, err, sizeof err),
                     -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/reg.csv"));
    assert_null(keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles_and_areas), cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_action_scope), cmocka_unit_test(test_areas_from_partnerships),
        cmocka_unit_test(test_load_file)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
