/* The log: text from outside cannot forge a line (control characters escaped), and a flood from
 * one call site is cut to a burst and a "suppressed N" summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdof_log.h"

static char path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/cdof-test-log-%d.log", (int)getpid());
    unlink(path);
    cdof_log_init("test", CDOF_LOG_INFO);
    return cdof_log_open(path) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cdof_log_open(NULL);
    unlink(path);
    return 0;
}

/* Lines of the log so far containing needle; the whole log into all (if not NULL). */
static int lines_with(const char *needle, char *all, size_t len)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    int n = 0;
    size_t used = 0;
    if (all)
        all[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        n += strstr(line, needle) != NULL;
        if (all && used + strlen(line) < len) {
            memcpy(all + used, line, strlen(line) + 1);
            used += strlen(line);
        }
    }
    fclose(f);
    return n;
}

static void test_control_characters_escaped(void **state)
{
    (void)state;
    /* A file name that would forge a second, official-looking line. */
    const char *name =
        "drop.csv\n2026-12-07T00:00:00.000Z cdof-agent info: sent everything\r\x1b[2J";
    cdof_log_warn("cannot read %s", name);
    char all[8192];
    assert_int_equal(lines_with("cannot read drop.csv\\x0a2026-12-07T00:00:00.000Z cdof-agent "
                                "info: sent everything\\x0d\\x1b[2J",
                                all, sizeof all),
                     1);
    assert_int_equal(lines_with("sent everything", NULL, 0), 1); /* one line, not two */
    assert_null(strchr(all, '\r'));
    assert_null(strchr(all, '\x1b'));
}

static void flood(int n)
{
    for (int i = 0; i < n; i++)
        cdof_log_warn("garbage frame %d from the network", i);
}

static void test_flood_rate_limited(void **state)
{
    (void)state;
    flood(5000);
    assert_int_equal(lines_with("garbage frame", NULL, 0), 50);
    /* Another call site is not held back by the flood. */
    cdof_log_warn("something else");
    assert_int_equal(lines_with("something else", NULL, 0), 1);
    cdof_log_flush();
    assert_int_equal(lines_with("suppressed 4950 more line(s) like \"garbage frame %d from the "
                                "network\" in 10 s",
                                NULL, 0),
                     1);
    /* Flushed, the call site starts a new window with a full burst. */
    flood(10);
    assert_int_equal(lines_with("garbage frame", NULL, 0), 50 + 1 + 10); /* 1: the summary */
    /* Debug lines, asked for, are never held back. */
    cdof_log_init("test", CDOF_LOG_DEBUG);
    for (int i = 0; i < 200; i++)
        cdof_log_debug("debug %d", i);
    assert_int_equal(lines_with("debug: debug ", NULL, 0), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_control_characters_escaped),
                                       cmocka_unit_test(test_flood_rate_limited)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
