/* Prometheus text exposition: HELP and TYPE lines before the samples, escaping of help text and
 * label values, values as Prometheus parses them, and the sticky errors (bad names, a family
 * given twice, a sample before any family). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cdof_prom.h"

static cdof_prom_t *fresh(void)
{
    cdof_prom_t *p = NULL;
    assert_int_equal(cdof_prom_new(&p), 0);
    return p;
}

static void test_counter_and_gauge(void **state)
{
    (void)state;
    cdof_prom_t *p = fresh();
    assert_int_equal(
        cdof_prom_metric(p, "cdof_hub_ingested_total", CDOF_PROM_COUNTER, "updates stored", 1234),
        0);
    assert_int_equal(cdof_prom_metric(p, "cdof_hub_batch_mean", CDOF_PROM_GAUGE,
                                      "mean envelopes per batch", 2.5),
                     0);
    size_t len = 0;
    const char *t = cdof_prom_text(p, &len);
    assert_non_null(t);
    assert_string_equal(t, "# HELP cdof_hub_ingested_total updates stored\n"
                           "# TYPE cdof_hub_ingested_total counter\n"
                           "cdof_hub_ingested_total 1234\n"
                           "# HELP cdof_hub_batch_mean mean envelopes per batch\n"
                           "# TYPE cdof_hub_batch_mean gauge\n"
                           "cdof_hub_batch_mean 2.5\n");
    assert_int_equal(len, strlen(t));
    cdof_prom_free(&p);
    assert_null(p);
}

static void test_labels_and_escaping(void **state)
{
    (void)state;
    cdof_prom_t *p = fresh();
    assert_int_equal(cdof_prom_family(p, "cdof_x", CDOF_PROM_GAUGE, "a \\ b\nc \"q\""), 0);
    cdof_prom_label_t l[] = {{"agent", "E06000009"}, {"note", "say \"hi\"\\\nthere"}};
    assert_int_equal(cdof_prom_sample(p, l, 2, 7), 0);
    assert_int_equal(cdof_prom_sample(p, l, 1, -1), 0);
    assert_string_equal(cdof_prom_text(p, NULL),
                        "# HELP cdof_x a \\\\ b\\nc \"q\"\n"
                        "# TYPE cdof_x gauge\n"
                        "cdof_x{agent=\"E06000009\",note=\"say \\\"hi\\\"\\\\\\nthere\"} 7\n"
                        "cdof_x{agent=\"E06000009\"} -1\n");
    cdof_prom_free(&p);
}

static void test_values(void **state)
{
    (void)state;
    cdof_prom_t *p = fresh();
    cdof_prom_family(p, "v", CDOF_PROM_GAUGE, "values");
    cdof_prom_sample(p, NULL, 0, NAN);
    cdof_prom_sample(p, NULL, 0, INFINITY);
    cdof_prom_sample(p, NULL, 0, -INFINITY);
    cdof_prom_sample(p, NULL, 0, 9007199254740992.0); /* 2^53: every digit */
    cdof_prom_sample(p, NULL, 0, 0.1);
    assert_string_equal(cdof_prom_text(p, NULL), "# HELP v values\n# TYPE v gauge\n"
                                                 "v NaN\nv +Inf\nv -Inf\nv 9007199254740992\n"
                                                 "v 0.10000000000000001\n");
    cdof_prom_free(&p);
}

static void test_errors_stick(void **state)
{
    (void)state;
    cdof_prom_t *p = fresh();
    assert_int_equal(cdof_prom_sample(p, NULL, 0, 1), -EINVAL); /* no family yet */
    assert_null(cdof_prom_text(p, NULL));
    assert_int_equal(cdof_prom_metric(p, "ok", CDOF_PROM_GAUGE, "h", 1), -EINVAL);
    cdof_prom_free(&p);

    const char *bad[] = {"", "9lives", "has-dash", "has space", "é"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = fresh();
        assert_int_equal(cdof_prom_family(p, bad[i], CDOF_PROM_GAUGE, "h"), -EINVAL);
        assert_int_equal(cdof_prom_error(p), -EINVAL);
        cdof_prom_free(&p);
    }
    p = fresh();
    assert_int_equal(cdof_prom_family(p, "ns:name_total", CDOF_PROM_COUNTER, "h"), 0);
    cdof_prom_label_t colon[] = {{"a:b", "v"}}; /* colons: metric names only */
    assert_int_equal(cdof_prom_sample(p, colon, 1, 1), -EINVAL);
    cdof_prom_free(&p);

    p = fresh();
    assert_int_equal(cdof_prom_metric(p, "twice", CDOF_PROM_GAUGE, "h", 1), 0);
    assert_int_equal(cdof_prom_metric(p, "twice", CDOF_PROM_GAUGE, "h", 2), -EINVAL);
    assert_null(cdof_prom_text(p, NULL));
    cdof_prom_free(&p);
}

static void test_grows(void **state)
{
    (void)state;
    cdof_prom_t *p = fresh();
    char name[32];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "m%d", i);
        assert_int_equal(cdof_prom_metric(p, name, CDOF_PROM_COUNTER, "a longer help text", i), 0);
    }
    size_t len = 0;
    const char *t = cdof_prom_text(p, &len);
    assert_non_null(t);
    assert_non_null(strstr(t, "\nm199 199\n"));
    assert_true(len > 200 * 40);
    cdof_prom_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge), cmocka_unit_test(test_labels_and_escaping),
        cmocka_unit_test(test_values), cmocka_unit_test(test_errors_stick),
        cmocka_unit_test(test_grows)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
