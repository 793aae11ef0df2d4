/* The common module: table-driven flags and INI files (precedence, limits, lists, every reason
 * naming the flag or file:line), the clock's parsing of injected times and cdof_grow. */
#include <errno.h>
#include <limits.h>
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

#include "cdof_clock.h"
#include "cdof_config.h"
#include "cdof_error.h"
#include "cdof_grow.h"

typedef struct {
    char *hub;
    char *note;
    long window;
    long offset;
    bool insecure;
    bool national;
    cdof_strlist_t areas;
    cdof_strlist_t topics;
} test_cfg_t;

static const cdof_opt_t opts[] = {
    {"hub", CDOF_OPT_STRING, "tcp://localhost:7400", 0, 0, offsetof(test_cfg_t, hub), "EP",
     "hub endpoint"},
    {"note", CDOF_OPT_STRING, NULL, 0, 0, offsetof(test_cfg_t, note), "TEXT", "a note"},
    {"window", CDOF_OPT_INT, "256", 1, 10000, offsetof(test_cfg_t, window), "N", "in flight"},
    {"offset", CDOF_OPT_INT, "0", LONG_MIN, LONG_MAX, offsetof(test_cfg_t, offset), "N",
     "any long"},
    {"insecure", CDOF_OPT_BOOL, "false", 0, 0, offsetof(test_cfg_t, insecure), NULL, "plain TCP"},
    {"national", CDOF_OPT_BOOL, NULL, 0, 0, offsetof(test_cfg_t, national), NULL, "any area"},
    {"areas", CDOF_OPT_LIST, NULL, 0, 0, offsetof(test_cfg_t, areas), "CODE,...", "areas"},
    {"topic", CDOF_OPT_LIST, "alert/", 0, 0, offsetof(test_cfg_t, topics), "PREFIX", "topics"},
};

static const cdof_config_spec_t spec = {"cdof-test", "cdof-test [options] ARGS...",
                                        "exercises the configuration table", opts,
                                        sizeof opts / sizeof *opts};

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/cdof-test-config-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(tmpdir);
}

/* Writes text to a file in the temporary directory; returns its path (static storage per slot). */
static const char *ini(int slot, const char *text)
{
    static char paths[4][128];
    snprintf(paths[slot], sizeof paths[slot], "%s/c%d.ini", tmpdir, slot);
    FILE *f = fopen(paths[slot], "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return paths[slot];
}

static void ini_remove(int slot)
{
    char p[128];
    snprintf(p, sizeof p, "%s/c%d.ini", tmpdir, slot);
    unlink(p);
}

/* Parses a NULL-terminated argument list. */
static int parse(test_cfg_t *cfg, cdof_strlist_t *pos, char *err, size_t errlen, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "cdof-test";
    va_list ap;
    va_start(ap, errlen);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL) {
        assert_true(argc < 31);
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;
    memset(cfg, 0, sizeof *cfg);
    if (pos)
        memset(pos, 0, sizeof *pos);
    err[0] = '\0';
    return cdof_config_parse(&spec, cfg, argc, argv, pos, err, errlen);
}

static void assert_list(const cdof_strlist_t *l, size_t n, ...)
{
    va_list ap;
    va_start(ap, n);
    if (l->count != n)
        fail_msg("list has %zu items, want %zu", l->count, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->items[i], va_arg(ap, const char *));
    va_end(ap);
}

static void done(test_cfg_t *cfg, cdof_strlist_t *pos)
{
    cdof_config_free(&spec, cfg);
    assert_null(cfg->hub);
    assert_null(cfg->areas.items);
    assert_int_equal(cfg->areas.count, 0);
    if (pos)
        cdof_strlist_free(pos);
}

static void test_defaults(void **state)
{
    (void)state;
    test_cfg_t cfg;
    cdof_strlist_t pos;
    char err[256];
    assert_int_equal(parse(&cfg, &pos, err, sizeof err, NULL), CDOF_CONFIG_OK);
    assert_string_equal(cfg.hub, "tcp://localhost:7400");
    assert_null(cfg.note);
    assert_int_equal(cfg.window, 256);
    assert_false(cfg.insecure);
    assert_false(cfg.national);
    assert_list(&cfg.areas, 0);
    assert_list(&cfg.topics, 1, "alert/");
    assert_int_equal(pos.count, 0);
    done(&cfg, &pos);
}

static void test_flags(void **state)
{
    (void)state;
    test_cfg_t cfg;
    cdof_strlist_t pos;
    char err[256];
    int rc = parse(&cfg, &pos, err, sizeof err, "league", "--hub", "tcp://hub:7402", "--window=10",
                   "--insecure", "--areas", "E06000001,E06000002", "continuity_of_care",
                   "--areas=E06000003", "--offset", "-42", "--note=", "--", "--window", "-x", NULL);
    if (rc != CDOF_CONFIG_OK)
        fail_msg("%s", err);
    assert_string_equal(cfg.hub, "tcp://hub:7402");
    assert_int_equal(cfg.window, 10);
    assert_int_equal(cfg.offset, -42);
    assert_true(cfg.insecure);
    assert_string_equal(cfg.note, "");
    assert_list(&cfg.areas, 3, "E06000001", "E06000002", "E06000003");
    assert_list(&pos, 4, "league", "continuity_of_care", "--window", "-x");
    done(&cfg, &pos);

    /* bool values spelled out */
    rc = parse(&cfg, NULL, err, sizeof err, "--insecure=yes", "--national=on", NULL);
    assert_int_equal(rc, CDOF_CONFIG_OK);
    assert_true(cfg.insecure && cfg.national);
    done(&cfg, NULL);
    rc = parse(&cfg, NULL, err, sizeof err, "--insecure", "--insecure=0", "--national=FALSE", NULL);
    assert_int_equal(rc, CDOF_CONFIG_OK);
    assert_false(cfg.insecure || cfg.national);
    done(&cfg, NULL);
    /* A string flag given twice: the last wins, without leaking the first. */
    rc = parse(&cfg, NULL, err, sizeof err, "--hub", "a", "--hub", "b", NULL);
    assert_int_equal(rc, CDOF_CONFIG_OK);
    assert_string_equal(cfg.hub, "b");
    done(&cfg, NULL);
    /* A list flag replaces the default; empty items are dropped. */
    rc = parse(&cfg, NULL, err, sizeof err, "--topic", "alert/ohid/,,alert/police/,", NULL);
    assert_int_equal(rc, CDOF_CONFIG_OK);
    assert_list(&cfg.topics, 2, "alert/ohid/", "alert/police/");
    done(&cfg, NULL);
}

static void expect_flag_error(const char *want, ...)
{
    char *argv[16];
    int argc = 0;
    argv[argc++] = "cdof-test";
    va_list ap;
    va_start(ap, want);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    test_cfg_t cfg = {0};
    cdof_strlist_t pos = {0};
    char err[256] = "";
    int rc = cdof_config_parse(&spec, &cfg, argc, argv, &pos, err, sizeof err);
    cdof_config_free(&spec, &cfg);
    cdof_strlist_free(&pos);
    if (rc >= 0)
        fail_msg("accepted, want '%s'", want);
    if (strcmp(err, want) != 0)
        fail_msg("reason '%s', want '%s'", err, want);
}

static void test_flag_errors(void **state)
{
    (void)state;
    expect_flag_error("unknown option '--bogus' (see --help)", "--bogus", NULL);
    expect_flag_error("unknown option '--hu' (see --help)", "--hu=x", NULL);
    expect_flag_error("--hub needs a value EP", "--hub", NULL);
    expect_flag_error("--window: 'ten' is not a whole number", "--window", "ten", NULL);
    expect_flag_error("--window: '12x' is not a whole number", "--window=12x", NULL);
    expect_flag_error("--window: '' is not a whole number", "--window=", NULL);
    expect_flag_error("--window: 0 is outside 1..10000", "--window", "0", NULL);
    expect_flag_error("--window: 10001 is outside 1..10000", "--window=10001", NULL);
    expect_flag_error("--window: -1 is outside 1..10000", "--window=-1", NULL);
    expect_flag_error("--offset: '99999999999999999999' is not a whole number",
                      "--offset=99999999999999999999", NULL);
    expect_flag_error("--insecure: 'maybe' is not true or false", "--insecure=maybe", NULL);
    expect_flag_error("--config needs a FILE", "--config", NULL);
}

static void test_int_limits(void **state)
{
    (void)state;
    test_cfg_t cfg;
    char err[256];
    char lmin[32], lmax[32];
    snprintf(lmin, sizeof lmin, "--offset=%ld", LONG_MIN);
    snprintf(lmax, sizeof lmax, "--offset=%ld", LONG_MAX);
    assert_int_equal(parse(&cfg, NULL, err, sizeof err, lmin, NULL), CDOF_CONFIG_OK);
    assert_true(cfg.offset == LONG_MIN);
    done(&cfg, NULL);
    assert_int_equal(parse(&cfg, NULL, err, sizeof err, lmax, NULL), CDOF_CONFIG_OK);
    assert_true(cfg.offset == LONG_MAX);
    done(&cfg, NULL);
    assert_int_equal(parse(&cfg, NULL, err, sizeof err, "--window=1", NULL), CDOF_CONFIG_OK);
    assert_int_equal(cfg.window, 1);
    done(&cfg, NULL);
    assert_int_equal(parse(&cfg, NULL, err, sizeof err, "--window=10000", NULL), CDOF_CONFIG_OK);
    assert_int_equal(cfg.window, 10000);
    done(&cfg, NULL);
}

static void test_ini_file(void **state)
{
    (void)state;
    const char *path = ini(0, "\xEF\xBB\xBF# cdof-test configuration\r\n"
                              "; another comment\n"
                              "\n"
                              "[hub]\n"
                              "  hub   =   tcp://ini:7400  \r\n"
                              "note = \"  spaced # not a comment ; really  \"\n"
                              "window=512\n"
                              "insecure = yes\n"
                              "[agent]\n"
                              "areas = E06000001, E06000002\n"
                              "areas = E06000003\n"
                              "topic = alert/ohid/\n");
    test_cfg_t cfg;
    cdof_strlist_t pos;
    char err[512];
    int rc = parse(&cfg, &pos, err, sizeof err, "--config", path, NULL);
    if (rc != CDOF_CONFIG_OK)
        fail_msg("%s", err);
    assert_string_equal(cfg.hub, "tcp://ini:7400");
    assert_string_equal(cfg.note, "  spaced # not a comment ; really  ");
    assert_int_equal(cfg.window, 512);
    assert_true(cfg.insecure);
    /* Repeated lines add to a list within the file; the file replaces the default. */
    assert_list(&cfg.areas, 3, "E06000001", "E06000002", "E06000003");
    assert_list(&cfg.topics, 1, "alert/ohid/");
    assert_int_equal(pos.count, 0); /* the file's path is not a positional argument */
    done(&cfg, &pos);

    /* --config=FILE form */
    char arg[256];
    snprintf(arg, sizeof arg, "--config=%s", path);
    assert_int_equal(parse(&cfg, NULL, err, sizeof err, arg, NULL), CDOF_CONFIG_OK);
    assert_int_equal(cfg.window, 512);
    done(&cfg, NULL);
    ini_remove(0);
}

static void test_precedence(void **state)
{
    (void)state;
    const char *path = ini(1, "hub = tcp://file:1\n"
                              "window = 512\n"
                              "areas = A,B\n"
                              "insecure = true\n"
                              "note = from the file\n");
    test_cfg_t cfg;
    cdof_strlist_t pos;
    char err[512];
    /* Flags override the file whether they come before or after --config. */
    int rc = parse(&cfg, &pos, err, sizeof err, "--hub", "tcp://flag:2", "--config", path,
                   "--areas", "C", "--insecure=false", "cmd", NULL);
    if (rc != CDOF_CONFIG_OK)
        fail_msg("%s", err);
    assert_string_equal(cfg.hub, "tcp://flag:2");
    assert_int_equal(cfg.window, 512); /* from the file: no flag */
    assert_false(cfg.insecure);
    assert_string_equal(cfg.note, "from the file");
    assert_list(&cfg.areas, 1, "C"); /* replaced, not appended to A,B */
    assert_list(&cfg.topics, 1, "alert/");
    assert_list(&pos, 1, "cmd");
    done(&cfg, &pos);

    /* A second file overrides the first; its lists replace the first's. */
    const char *second = ini(2, "window = 64\nareas = D\n");
    rc = parse(&cfg, NULL, err, sizeof err, "--config", path, "--config", second, NULL);
    assert_int_equal(rc, CDOF_CONFIG_OK);
    assert_int_equal(cfg.window, 64);
    assert_string_equal(cfg.hub, "tcp://file:1");
    assert_list(&cfg.areas, 1, "D");
    done(&cfg, NULL);

    /* Reloading a file (SIGHUP) over a loaded configuration does not double its lists. */
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(cdof_config_load_file(&spec, &cfg, path, err, sizeof err), 0);
    assert_int_equal(cdof_config_load_file(&spec, &cfg, path, err, sizeof err), 0);
    assert_list(&cfg.areas, 2, "A", "B");
    assert_string_equal(cfg.hub, "tcp://file:1");
    done(&cfg, NULL);
    ini_remove(1);
    ini_remove(2);
}

static void expect_file_error(const char *text, const char *want_tail)
{
    const char *path = ini(3, text);
    test_cfg_t cfg;
    char err[512];
    char want[512];
    snprintf(want, sizeof want, "%s:%s", path, want_tail);
    int rc = parse(&cfg, NULL, err, sizeof err, "--config", path, NULL);
    done(&cfg, NULL);
    ini_remove(3);
    if (rc >= 0)
        fail_msg("accepted, want '%s'", want);
    if (strcmp(err, want) != 0)
        fail_msg("reason '%s', want '%s'", err, want);
}

static void test_file_errors(void **state)
{
    (void)state;
    expect_file_error("hub = x\njust some words\n", "2: expected 'name = value'");
    expect_file_error("# ok\n\nhubb = x\n", "3: unknown setting 'hubb'");
    expect_file_error("window = 1\nwindow = lots\n", "2: 'lots' is not a whole number");
    expect_file_error("window = 20000\n", "1: 20000 is outside 1..10000");
    expect_file_error("insecure = sometimes\n", "1: 'sometimes' is not true or false");
    expect_file_error("insecure =\n", "1: '' is not true or false");
    expect_file_error(" = value\n", "1: unknown setting ''");
    /* A line longer than the reader's buffer is refused, not split. */
    size_t n = 5000;
    char *big = malloc(n + 16);
    assert_non_null(big);
    strcpy(big, "note = ");
    memset(big + 7, 'x', n);
    strcpy(big + 7 + n, "\n");
    expect_file_error(big, "1: line longer than 4095 bytes");
    free(big);

    test_cfg_t cfg;
    char err[512];
    char missing[128];
    snprintf(missing, sizeof missing, "%s/none.ini", tmpdir);
    int rc = parse(&cfg, NULL, err, sizeof err, "--config", missing, NULL);
    done(&cfg, NULL);
    assert_int_equal(rc, -ENOENT);
    char want[256];
    snprintf(want, sizeof want, "%s: No such file or directory", missing);
    assert_string_equal(err, want);
}

static void test_help_version_and_bad_defaults(void **state)
{
    (void)state;
    test_cfg_t cfg;
    char err[256];
    assert_int_equal(parse(&cfg, NULL, err, sizeof err, "--help", NULL), CDOF_CONFIG_EXIT);
    done(&cfg, NULL);
    assert_int_equal(parse(&cfg, NULL, err, sizeof err, "x", "-h", NULL), CDOF_CONFIG_EXIT);
    done(&cfg, NULL);
    assert_int_equal(parse(&cfg, NULL, err, sizeof err, "--version", NULL), CDOF_CONFIG_EXIT);
    done(&cfg, NULL);
    /* After "--", --help is an argument. */
    cdof_strlist_t pos;
    assert_int_equal(parse(&cfg, &pos, err, sizeof err, "--", "--help", NULL), CDOF_CONFIG_OK);
    assert_list(&pos, 1, "--help");
    done(&cfg, &pos);

    /* A default that does not parse is reported, not ignored. */
    static const cdof_opt_t bad_opts[] = {
        {"window", CDOF_OPT_INT, "0", 1, 10, offsetof(test_cfg_t, window), "N", "in flight"},
    };
    static const cdof_config_spec_t bad = {"cdof-bad", "cdof-bad", "bad", bad_opts, 1};
    char *argv[] = {"cdof-bad", NULL};
    test_cfg_t c2 = {0};
    assert_int_equal(cdof_config_parse(&bad, &c2, 1, argv, NULL, err, sizeof err), CDOF_EINVALID);
    assert_string_equal(err, "default of --window: 0 is outside 1..10");
}

static void test_strlist(void **state)
{
    (void)state;
    cdof_strlist_t l = {0};
    for (int i = 0; i < 100; i++) {
        char s[16];
        snprintf(s, sizeof s, "item%d", i);
        assert_int_equal(cdof_strlist_add(&l, s), 0);
    }
    assert_int_equal(l.count, 100);
    assert_string_equal(l.items[99], "item99");
    cdof_strlist_free(&l);
    assert_null(l.items);
    assert_int_equal(l.count, 0);
    cdof_strlist_free(&l);
}

static void test_clock_parse(void **state)
{
    (void)state;
    /* Injected time: read once, at the first call in the process, which this is. */
    assert_int_equal(setenv("CDOF_FAKE_NOW", "2024-05-01T10:00:00Z", 1), 0);
    assert_int_equal(cdof_clock_today(), 19844);
    int64_t now = cdof_clock_now_ms();
    assert_true(now >= (int64_t)19844 * 86400000 + 36000000);
    assert_true(now < (int64_t)19844 * 86400000 + 36000000 + 3600000);
    int64_t ms;
    assert_int_equal(cdof_clock_parse("2024-05-01", &ms), 0);
    assert_true(ms == (int64_t)19844 * 86400000);
    assert_int_equal(cdof_clock_parse("2024-05-01T10:00:00Z", &ms), 0);
    assert_true(ms == (int64_t)19844 * 86400000 + 36000000);
    assert_int_equal(cdof_clock_parse("2024-05-01 10:00:01", &ms), 0);
    assert_true(ms == (int64_t)19844 * 86400000 + 36001000);
    assert_int_equal(cdof_clock_parse("2024-02-29", &ms), 0);
    assert_int_equal(cdof_clock_parse("1714557600000", &ms), 0);
    assert_true(ms == 1714557600000);
    assert_int_equal(cdof_clock_parse("0", &ms), 0);
    assert_true(ms == 0);
    const char *bad[] = {"",
                         "2023-02-29",
                         "2024-02-30",
                         "2024-04-31",
                         "2024-13-01",
                         "2024-00-01",
                         "2024-05-00",
                         "2024- 5-01",
                         "2024-+5-01",
                         "2024-05-01T-1:00:00",
                         "2024-05-01T24:00:00",
                         "2024-05-01T10:60:00",
                         "2024-05-01T10:00",
                         "2024-05-01T10:00:00+01:00",
                         "2024-05-01x",
                         "-5",
                         " 5",
                         "+5",
                         "12abc",
                         "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (cdof_clock_parse(bad[i], &ms) != -EINVAL)
            fail_msg("'%s' parsed", bad[i]);
    }
    assert_int_equal(cdof_clock_parse(NULL, &ms), -EINVAL);
    char buf[32];
    cdof_clock_format((int64_t)19844 * 86400000 + 36000000, buf, sizeof buf);
    assert_string_equal(buf, "2024-05-01T10:00:00Z");
    /* The monotonic clock does not go backwards. */
    int64_t a = cdof_clock_mono_ms(), b = cdof_clock_mono_ms();
    assert_true(b >= a);
}

/* cdof_grow: room for one more, doubling from `first`; a size that would overflow fails and
 * leaves the array with the caller. */
static void test_grow(void **state)
{
    (void)state;
    int *a = NULL;
    size_t cap = 0;
    for (size_t n = 0; n < 100; n++) {
        int *b = cdof_grow(a, n, &cap, 4, sizeof *b);
        assert_non_null(b);
        assert_true(cap > n);
        a = b;
        a[n] = (int)n;
    }
    assert_int_equal(cap, 128); /* 4, 8, ..., 128 */
    for (size_t n = 0; n < 100; n++)
        assert_int_equal(a[n], (int)n);
    assert_ptr_equal(cdof_grow(a, 100, &cap, 4, sizeof *a), a); /* room left: the same array */
    size_t huge = SIZE_MAX / 2 + 1;
    assert_null(cdof_grow(a, huge, &huge, 4, sizeof *a));
    assert_int_equal(huge, SIZE_MAX / 2 + 1);
    assert_int_equal(a[99], 99); /* still the caller's, unchanged */
    free(a);
}

/* cdof_config_trim: white space off both ends, in place; nothing left is an empty string. */
static void test_trim(void **state)
{
    (void)state;
    char a[] = " \t key = a b \r\n", b[] = " \t ", c[] = "x";
    assert_string_equal(cdof_config_trim(a), "key = a b");
    assert_string_equal(cdof_config_trim(b), "");
    assert_ptr_equal(cdof_config_trim(c), c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),    cmocka_unit_test(test_flags),
        cmocka_unit_test(test_flag_errors), cmocka_unit_test(test_int_limits),
        cmocka_unit_test(test_ini_file),    cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_file_errors), cmocka_unit_test(test_help_version_and_bad_defaults),
        cmocka_unit_test(test_strlist),     cmocka_unit_test(test_clock_parse),
        cmocka_unit_test(test_grow),        cmocka_unit_test(test_trim),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
