/* The partnerships file: members in reference order with their region and population, and each
 * bad line named by line and field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdof_error.h"
#include "cdof_partnerships.h"

#include "ref_fixture.h"

/* Loads text as a partnerships file; returns load's code, *out and err filled. */
static int load_text(const char *text, cdof_partnerships_t **out, char *err, size_t errlen)
{
    char path[] = "/tmp/cdof-partnerships-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    int rc = cdof_partnerships_load(path, ref, out, err, errlen);
    unlink(path);
    return rc;
}

static void test_members_region_population(void **state)
{
    (void)state;
    cdof_partnerships_t *ps = NULL;
    char err[256] = "";
    assert_int_equal(load_text("partnership,area_code\n"
                               "north-west,E08000012\n"
                               "north-west,E08000003\n"
                               "mixed,E06000001\n"
                               "mixed,E10000017\n",
                               &ps, err, sizeof err),
                     0);
    assert_int_equal(cdof_partnerships_count(ps), 2);
    const cdof_partnership_t *p = cdof_partnerships_list(ps);
    assert_string_equal(p[0].area.code, "north-west");
    assert_int_equal(p[0].area.kind, CDOF_AREA_PARTNERSHIP);
    assert_int_equal(p[0].nmembers, 2);
    /* Reference order, not the file's. */
    assert_true(p[0].members[0]->index < p[0].members[1]->index);
    assert_string_equal(p[0].area.region_code, "E12000002");
    assert_true(p[0].area.population == 555741.0 + 500474.0);
    assert_string_equal(p[1].area.code, "mixed");
    assert_null(p[1].area.region_code); /* members in two regions */
    cdof_partnerships_destroy(&ps);
    assert_null(ps);
    assert_int_equal(cdof_partnerships_count(NULL), 0);
    assert_null(cdof_partnerships_list(NULL));
}

static void expect_error(const char *text, const char *want)
{
    cdof_partnerships_t *ps = (cdof_partnerships_t *)1;
    char err[256] = "";
    assert_int_equal(load_text(text, &ps, err, sizeof err), CDOF_EINVALID);
    assert_null(ps);
    if (!strstr(err, want))
        fail_msg("error '%s' does not say '%s'", err, want);
}

static void test_bad_lines(void **state)
{
    (void)state;
    expect_error("area_code,partnership\n", ":1: expected the header partnership,area_code");
    expect_error("partnership,area_code\nnw,E08000003\nnw,E99999999\n",
                 ":3: field 'area_code': 'E99999999' is not an upper-tier area");
    expect_error("partnership,area_code\nnw,E12000002\n",
                 ":2: field 'area_code': 'E12000002' is not an upper-tier area");
    expect_error("partnership,area_code\nnw,E08000003\nsw,E08000003\n",
                 ":3: field 'area_code': E08000003 is already in partnership nw");
    expect_error("partnership,area_code\nE08000012,E08000003\n",
                 ":2: field 'partnership': 'E08000012' must be 1 to 63 characters");
    expect_error("partnership,area_code\nnw\n", ":2: field 'partnership'");
}

static void test_missing_file(void **state)
{
    (void)state;
    cdof_partnerships_t *ps = NULL;
    char err[256] = "";
    assert_true(cdof_partnerships_load("/nonexistent/p.csv", ref, &ps, err, sizeof err) < 0);
    assert_null(ps);
    assert_non_null(strstr(err, "/nonexistent/p.csv"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_region_population),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, ref_setup, ref_teardown);
}
