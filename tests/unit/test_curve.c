/* The CURVE module: key files (mode, text, a mismatched pair), the flags' rules (--insecure
 * against --key and --server-key), and a real CURVE handshake between two sockets set up by it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

#include "cdof_curve.h"
#include "cdof_error.h"
#include "cdof_link.h"

static char dir[64];

static void path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

/* Writes text to dir/name with mode; returns the path in out. */
static void write_file(const char *name, const char *text, mode_t mode, char *out, size_t len)
{
    path(out, len, name);
    FILE *f = fopen(out, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(out, mode), 0);
}

/* A fresh pair as cdof-keygen writes it: NAME.key (secret, public) and NAME.pub. */
static void make_pair(const char *name, char *key_path, char *pub_path, size_t len)
{
    char pub[41], sec[41], text[100], file[64];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    snprintf(text, sizeof text, "%s\n%s\n", sec, pub);
    snprintf(file, sizeof file, "%s.key", name);
    write_file(file, text, 0600, key_path, len);
    snprintf(text, sizeof text, "%s\n", pub);
    snprintf(file, sizeof file, "%s.pub", name);
    write_file(file, text, 0644, pub_path, len);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cdof-curve-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_flags(void **state)
{
    (void)state;
    char key[256], pub[256], err[512];
    make_pair("flags", key, pub, sizeof key);
    cdof_curve_t *c = (cdof_curve_t *)1;
    assert_int_equal(cdof_curve_open(true, false, key, NULL, &c, err, sizeof err), CDOF_EINVALID);
    assert_null(c);
    assert_non_null(strstr(err, "--insecure excludes"));
    assert_int_equal(cdof_curve_open(false, false, NULL, NULL, &c, err, sizeof err), CDOF_EINVALID);
    assert_non_null(strstr(err, "--key FILE is required"));
    assert_int_equal(cdof_curve_open(false, false, key, NULL, &c, err, sizeof err), CDOF_EINVALID);
    assert_non_null(strstr(err, "--server-key"));
    assert_int_equal(cdof_curve_open(false, true, key, pub, &c, err, sizeof err), CDOF_EINVALID);
    /* --insecure: a handle without keys, which puts nothing on a socket. */
    assert_int_equal(cdof_curve_open(true, false, NULL, NULL, &c, err, sizeof err), 0);
    assert_false(cdof_curve_enabled(c));
    assert_string_equal(cdof_curve_public(c), "");
    cdof_curve_destroy(&c);
    assert_null(c);
    cdof_curve_destroy(&c); /* NULL is fine */
}

static void test_key_files(void **state)
{
    (void)state;
    char key[256], pub[256], other_key[256], other_pub[256], p[256], err[512];
    make_pair("a", key, pub, sizeof key);
    make_pair("b", other_key, other_pub, sizeof key);
    cdof_curve_t *c = NULL;

    /* Readable by group or others: refused, and the reason says how to fix it. */
    assert_int_equal(chmod(key, 0640), 0);
    assert_int_equal(cdof_curve_open(false, false, key, pub, &c, err, sizeof err), -EPERM);
    char want[300];
    snprintf(want, sizeof want, "run chmod 600 %s", key);
    assert_non_null(strstr(err, want));
    assert_int_equal(chmod(key, 0600), 0);

    assert_int_equal(cdof_curve_open(false, false, key, pub, &c, err, sizeof err), 0);
    assert_true(cdof_curve_enabled(c));
    FILE *f = fopen(pub, "r");
    char line[64] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    assert_string_equal(cdof_curve_public(c), line); /* derived from the secret key */
    cdof_curve_destroy(&c);

    /* A missing file, a key that is not Z85, a pair mixed up, a .pub that is not a key. */
    path(p, sizeof p, "missing.key");
    assert_int_equal(cdof_curve_open(false, false, p, pub, &c, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, p));
    write_file("bad.key", "not a key\n", 0600, p, sizeof p);
    assert_int_equal(cdof_curve_open(false, false, p, pub, &c, err, sizeof err), CDOF_EINVALID);
    assert_non_null(strstr(err, "line 1: not a Z85 secret key"));
    char sec_a[64], text[128];
    f = fopen(key, "r");
    assert_non_null(fgets(sec_a, sizeof sec_a, f));
    fclose(f);
    f = fopen(other_pub, "r");
    char pub_b[64];
    assert_non_null(fgets(pub_b, sizeof pub_b, f));
    fclose(f);
    snprintf(text, sizeof text, "%s%s", sec_a, pub_b);
    write_file("mixed.key", text, 0600, p, sizeof p);
    assert_int_equal(cdof_curve_open(false, false, p, pub, &c, err, sizeof err), CDOF_EINVALID);
    assert_non_null(strstr(err, "line 2: not the public key"));
    write_file("bad.pub", "short\n", 0644, p, sizeof p);
    assert_int_equal(cdof_curve_open(false, false, key, p, &c, err, sizeof err), CDOF_EINVALID);
    assert_non_null(strstr(err, "not a Z85 public key"));
    assert_null(c);
}

/* Two sockets set up by the module talk; a client with the wrong server key does not. */
static void test_handshake(void **state)
{
    (void)state;
    char hk[256], hp[256], ck[256], cp[256], xk[256], xp[256], err[512], ep[128];
    make_pair("hub", hk, hp, sizeof hk);
    make_pair("client", ck, cp, sizeof ck);
    make_pair("impostor", xk, xp, sizeof xk);
    cdof_curve_t *server = NULL, *client = NULL, *wrong = NULL;
    assert_int_equal(cdof_curve_open(false, true, hk, NULL, &server, err, sizeof err), 0);
    assert_int_equal(cdof_curve_open(false, false, ck, hp, &client, err, sizeof err), 0);
    assert_int_equal(cdof_curve_open(false, false, ck, xp, &wrong, err, sizeof err), 0);
    void *ctx = zmq_ctx_new();
    void *rep = zmq_socket(ctx, ZMQ_ROUTER), *req = zmq_socket(ctx, ZMQ_DEALER),
         *bad = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, timeout = 300;
    zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(bad, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(rep, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal(cdof_curve_apply(server, rep, "test"), 0);
    assert_int_equal(cdof_curve_apply(client, req, NULL), 0);
    assert_int_equal(cdof_curve_apply(wrong, bad, NULL), 0);
    snprintf(ep, sizeof ep, "ipc://%s/sock", dir);
    assert_int_equal(zmq_bind(rep, ep), 0);
    assert_int_equal(zmq_connect(bad, ep), 0);
    assert_int_equal(zmq_send(bad, "no", 2, 0), 2);
    assert_int_equal(zmq_connect(req, ep), 0);
    assert_int_equal(zmq_send(req, "hi", 2, 0), 2);
    /* Only the client that knows the hub's real key gets through (bounded: 10 tries). */
    char buf[16];
    int got = 0;
    for (int i = 0; i < 10 && !got; i++) {
        zmq_msg_t id;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, rep, 0) >= 0) {
            int n = zmq_recv(rep, buf, sizeof buf, 0);
            assert_int_equal(n, 2);
            assert_memory_equal(buf, "hi", 2);
            got = 1;
        }
        zmq_msg_close(&id);
    }
    assert_true(got);
    assert_int_equal(zmq_recv(rep, buf, sizeof buf, 0), -1); /* nothing from the impostor */
    zmq_close(rep);
    zmq_close(req);
    zmq_close(bad);
    zmq_ctx_term(ctx);
    cdof_curve_destroy(&server);
    cdof_curve_destroy(&client);
    cdof_curve_destroy(&wrong);
}

/* A monitor's events are sent by the context's I/O thread and block it while nobody can take
 * them: closing the watching side while its socket still emits events (a connection being made
 * as the socket closes) must not leave the I/O thread stuck, or no socket of the context ever
 * connects again (an agent that reopened its hub socket never got back in). */
static void test_link_close_racing_events(void **state)
{
    (void)state;
    char ep[128], buf[16];
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    snprintf(ep, sizeof ep, "ipc://%s/link", dir);
    assert_int_equal(zmq_bind(router, ep), 0);
    for (int i = 0; i < 200; i++) {
        void *d = zmq_socket(ctx, ZMQ_DEALER);
        assert_non_null(d);
        zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
        cdof_link_t *link = NULL;
        assert_int_equal(cdof_link_open(ctx, d, &link), 0);
        assert_int_equal(zmq_connect(d, ep), 0);
        if (i % 4 == 0) { /* sometimes let the handshake go part of the way */
            zmq_pollitem_t it = {cdof_link_socket(link), 0, ZMQ_POLLIN, 0};
            (void)zmq_poll(&it, 1, 2);
        }
        cdof_link_close(&link);
        zmq_close(d);
    }
    /* The context still connects: a fresh socket is heard within 10 s (bounded, loaded
     * machines). */
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(d, ep), 0);
    assert_int_equal(zmq_send(d, "ping", 4, ZMQ_DONTWAIT), 4);
    bool heard = false;
    for (int tries = 0; tries < 100 && !heard; tries++) {
        zmq_pollitem_t it = {router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        zmq_msg_t id;
        zmq_msg_init(&id);
        while (zmq_msg_recv(&id, router, ZMQ_DONTWAIT) >= 0) {
            int n = zmq_recv(router, buf, sizeof buf, 0);
            heard = heard || (n == 4 && memcmp(buf, "ping", 4) == 0);
        }
        zmq_msg_close(&id);
    }
    assert_true(heard);
    zmq_close(d);
    zmq_close(router);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags), cmocka_unit_test(test_key_files),
        cmocka_unit_test(test_handshake), cmocka_unit_test(test_link_close_racing_events)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
