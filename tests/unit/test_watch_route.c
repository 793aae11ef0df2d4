/* cdof-watch's routing tree and group windows: first match wins unless continue, the deepest
 * matching route takes the alert, the root takes what no child does; group keys; when digests
 * fall due (group_wait, group_interval, repeat_interval, nothing after an acknowledgement). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "watch_route.h"

static const char tree[] = "[receiver r]\ntype = webhook\nurl = https://x\n"
                           "[route]\nreceiver = r\ngroup_by = team, region\n"
                           "[route nw]\nregion = E12000002\ncontinue = true\n"
                           "[route nw.crit]\nseverity = critical\n"
                           "[route nw.ohid]\nteam = ohid\n"
                           "[route nw2]\nregion = E12000002\n"
                           "[route nw3]\nregion = E12000002\n"
                           "[route hmpps]\nteam = hmpps\n";

static watch_conf_t *conf(void)
{
    char err[256] = "";
    watch_conf_t *c = NULL;
    if (watch_conf_parse(tree, "t.ini", &c, err, sizeof err) < 0)
        fail_msg("%s", err);
    return c;
}

/* The names of the routes that take the labels, space-separated. */
static void names(const watch_conf_t *c, const char *team, const char *region, const char *sev,
                  char *buf, size_t len)
{
    watch_labels_t l = {{team, region, "worse_than_england", sev}};
    size_t idx[16];
    size_t n = watch_route_match(c, &l, idx, 16);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(buf, *c->routes[idx[i]].name ? c->routes[idx[i]].name : "(root)",
                len - strlen(buf) - 1);
        strncat(buf, " ", len - strlen(buf) - 1);
    }
}

static void test_match(void **state)
{
    (void)state;
    watch_conf_t *c = conf();
    char got[256];
    /* nw continues: nw (via its child nw.crit) and then nw2, which stops; nw3 never. */
    names(c, "ohid", "E12000002", "critical", got, sizeof got);
    assert_string_equal(got, "nw.crit nw2 ");
    /* Within nw, the first matching child wins (nw.crit does not continue). */
    names(c, "ohid", "E12000002", "warning", got, sizeof got);
    assert_string_equal(got, "nw.ohid nw2 ");
    /* No child of nw matches: nw itself. */
    names(c, "hmpps", "E12000002", "warning", got, sizeof got);
    assert_string_equal(got, "nw nw2 ");
    names(c, "hmpps", "E12000009", "warning", got, sizeof got);
    assert_string_equal(got, "hmpps ");
    /* Nothing matches: the root (the default route). */
    names(c, "police", "E12000009", "info", got, sizeof got);
    assert_string_equal(got, "(root) ");
    names(c, NULL, NULL, NULL, got, sizeof got);
    assert_string_equal(got, "(root) ");
    watch_conf_free(&c);
}

static void test_group_key(void **state)
{
    (void)state;
    watch_conf_t *c = conf();
    watch_labels_t l = {{"ohid", "E12000002", "worse_than_england", "critical"}};
    char key[128];
    assert_int_equal(watch_route_group_key(&c->routes[0], &l, key, sizeof key), 0);
    assert_string_equal(key, "team=ohid,region=E12000002");
    watch_route_t all = c->routes[0];
    all.group_by = 0;
    assert_int_equal(watch_route_group_key(&all, &l, key, sizeof key), 0);
    assert_string_equal(key, "");
    all.group_by = (1u << WATCH_LABEL_COUNT) - 1;
    assert_int_equal(watch_route_group_key(&all, &l, key, sizeof key), 0);
    assert_string_equal(key,
                        "team=ohid,region=E12000002,rule=worse_than_england,severity=critical");
    assert_int_equal(watch_route_group_key(&all, &l, key, 10), -ENAMETOOLONG);
    watch_conf_free(&c);
}

static void test_windows(void **state)
{
    (void)state;
    watch_route_t r = {
        .group_wait_ms = 30000, .group_interval_ms = 300000, .repeat_interval_ms = 14400000};
    watch_group_clock_t g = {.created_ms = 1000, .changed = true};
    assert_int_equal(watch_route_next_flush(&r, &g), 31000); /* group_wait */
    g.flushed_ms = 31000;
    g.changed = false;
    g.repeatable = true;
    assert_int_equal(watch_route_next_flush(&r, &g), 31000 + 14400000); /* repeat */
    g.changed = true;
    assert_int_equal(watch_route_next_flush(&r, &g), 331000); /* group_interval */
    g.changed = false;
    g.repeatable = false; /* every alert acknowledged: silence until something changes */
    assert_int_equal(watch_route_next_flush(&r, &g), INT64_MAX);
    watch_group_clock_t empty = {.created_ms = 5};
    assert_int_equal(watch_route_next_flush(&r, &empty), INT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_group_key),
        cmocka_unit_test(test_windows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
