/* cdof-watch's receivers file: a complete file with inheritance down the routing tree, durations,
 * and the errors a person gets (file, line, key) for the mistakes that are easy to make. */
#include <errno.h>
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
#include "watch_conf.h"

static const char good[] = "# a regional team\n"
                           "[delivery]\n"
                           "retry_initial = 2s\n"
                           "retry_max = 1m\n"
                           "expire = 2d\n"
                           "\n"
                           "[receiver mail]\n"
                           "type = email\n"
                           "url = smtp://mail.example:587\n"
                           "from = cdof@example\n"
                           "to = a@example, b@example\n"
                           "user = cdof\n"
                           "[receiver chat]\n"
                           "type = teams\n"
                           "url = https://example.webhook.office.com/x\n"
                           "timeout = 5s\n"
                           "[route]\n"
                           "receiver = mail\n"
                           "group_by = team, region\n"
                           "group_wait = 10s\n"
                           "[route nw]\n"
                           "region = E12000002, E12000001\n"
                           "continue = true\n"
                           "repeat_interval = 1h\n"
                           "[route nw.critical]\n"
                           "severity = critical\n"
                           "receiver = chat\n"
                           "group_by = rule\n";

static watch_conf_t *parse_ok(const char *text)
{
    char err[256] = "";
    watch_conf_t *c = NULL;
    int rc = watch_conf_parse(text, "r.ini", &c, err, sizeof err);
    if (rc < 0)
        fail_msg("%s", err);
    return c;
}

static void test_good_file(void **state)
{
    (void)state;
    watch_conf_t *c = parse_ok(good);
    assert_int_equal(c->delivery.retry_initial_ms, 2000);
    assert_int_equal(c->delivery.retry_max_ms, 60000);
    assert_int_equal(c->delivery.expire_ms, 2 * 86400000L);
    assert_string_equal(c->delivery.query_command, "cdof-query");
    assert_int_equal(c->nreceivers, 2);
    assert_int_equal(c->receivers[0].kind, WATCH_RECV_EMAIL);
    assert_int_equal(c->receivers[0].to.count, 2);
    assert_string_equal(c->receivers[0].to.items[1], "b@example");
    assert_true(c->receivers[0].starttls);
    assert_int_equal(c->receivers[1].timeout_ms, 5000);
    assert_int_equal(c->nroutes, 3);
    /* The root, then nw inheriting receiver and grouping, then nw.critical overriding both. */
    assert_string_equal(c->routes[0].name, "");
    assert_int_equal(c->routes[0].parent, -1);
    assert_int_equal(c->routes[0].group_by, (1u << WATCH_LABEL_TEAM) | (1u << WATCH_LABEL_REGION));
    assert_int_equal(c->routes[1].parent, 0);
    assert_int_equal(c->routes[1].receiver, 0);
    assert_int_equal(c->routes[1].group_by, c->routes[0].group_by);
    assert_int_equal(c->routes[1].group_wait_ms, 10000);
    assert_int_equal(c->routes[1].repeat_interval_ms, 3600000);
    assert_true(c->routes[1].cont);
    assert_int_equal(c->routes[1].match[WATCH_LABEL_REGION].count, 2);
    assert_int_equal(c->routes[2].parent, 1);
    assert_int_equal(c->routes[2].receiver, 1);
    assert_int_equal(c->routes[2].group_by, 1u << WATCH_LABEL_RULE);
    assert_int_equal(c->routes[2].repeat_interval_ms, 3600000); /* from nw */
    assert_int_equal(c->routes[2].group_interval_ms, 300000);   /* the default, via the root */
    assert_non_null(watch_conf_receiver(c, "chat"));
    assert_null(watch_conf_receiver(c, "nope"));
    watch_conf_free(&c);
    assert_null(c);
}

/* text must be refused with a message containing want. */
static void refused(const char *text, const char *want)
{
    char err[256] = "";
    watch_conf_t *c = NULL;
    int rc = watch_conf_parse(text, "r.ini", &c, err, sizeof err);
    assert_int_equal(rc, CDOF_EINVALID);
    assert_null(c);
    if (!strstr(err, want))
        fail_msg("expected '%s' in '%s'", want, err);
}

static void test_errors_name_the_line(void **state)
{
    (void)state;
    refused("[route]\nreceiver = x\n", "r.ini:1: receiver 'x' is not defined");
    refused("[receiver a]\ntype = pager\n", "r.ini:2: type: 'pager' is not email");
    refused("[receiver a]\ntype = email\nurl = smtp://h\nfrom = f\nto = t\n"
            "password = hunter2\n",
            "r.ini:6: password: keep it out of this file");
    refused("[route]\nreceiver = a\n[route x.y]\n", "r.ini:3: route 'x.y' comes before its parent");
    refused("[route x]\n", "r.ini:1: [route x] before [route] (the root)");
    refused("[delivery]\nexpire = soon\n", "r.ini:2: expire: 'soon' is not a duration");
    refused("[receiver a]\ntype = webhook\nurl = ftp://x\n[route]\nreceiver = a\n",
            "r.ini:1: [receiver a]: url must be https://");
    refused("[receiver a]\ntype = email\nurl = smtp://h\n[route]\nreceiver = a\n",
            "needs from and to");
    refused("[receiver a]\ntype = slack\nurl = https://x\n", "no [route] section");
    refused("[receiver a]\ntype = slack\nurl = https://x\n[route]\nreceiver = a\nteam = ohid\n",
            "r.ini:6: the root [route] matches every alert");
    refused("[route]\nreceiver = a\ngroup_by = area\n", "group_by: 'area' is not team");
    refused("[receiver a]\ntype = slack\nurl = https://x\n[route]\nreceiver = a\n[route]\n",
            "r.ini:6: route '(root)' is defined twice");
    refused("[receiver a]\ntype = slack\nurl = https://x\n[route]\nreceiver = a\nfoo = 1\n",
            "r.ini:6: [route]: unknown key 'foo'");
    refused("[alerts]\n", "r.ini:1: unknown section [alerts]");
    refused("key = v\n", "r.ini:1: 'key' outside a section");
}

static void test_delivery_alone_and_password_file(void **state)
{
    (void)state;
    watch_conf_t *c = parse_ok("[delivery]\nretry_initial = 100ms\n");
    assert_int_equal(c->nroutes, 0);
    assert_int_equal(c->delivery.retry_initial_ms, 100);
    watch_conf_free(&c);

    char path[] = "/tmp/cdof-test-pass.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\n", 7), 7);
    close(fd);
    char text[512];
    snprintf(text, sizeof text,
             "[receiver m]\ntype = email\nurl = smtps://h\nfrom = f\nto = t\nuser = u\n"
             "password_file = %s\n[route]\nreceiver = m\n",
             path);
    c = parse_ok(text);
    assert_string_equal(c->receivers[0].password, "s3cret");
    watch_conf_free(&c);
    unlink(path);
    snprintf(text, sizeof text, "[receiver m]\npassword_file = %s\n", path);
    refused(text, "r.ini:2: password_file: cannot read");
}

static void test_durations(void **state)
{
    (void)state;
    long ms;
    assert_int_equal(watch_conf_duration("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(watch_conf_duration("30s", &ms), 0);
    assert_int_equal(ms, 30000);
    assert_int_equal(watch_conf_duration("5m", &ms), 0);
    assert_int_equal(ms, 300000);
    assert_int_equal(watch_conf_duration("4h", &ms), 0);
    assert_int_equal(ms, 14400000);
    assert_int_equal(watch_conf_duration("2d", &ms), 0);
    assert_int_equal(ms, 172800000);
    assert_int_equal(watch_conf_duration("5", &ms), -EINVAL);
    assert_int_equal(watch_conf_duration("-5s", &ms), -EINVAL);
    assert_int_equal(watch_conf_duration("5 s", &ms), -EINVAL);
    assert_int_equal(watch_conf_duration("99999d", &ms), -EINVAL);
    assert_int_equal(watch_conf_duration("", &ms), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_errors_name_the_line),
        cmocka_unit_test(test_delivery_alone_and_password_file),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
