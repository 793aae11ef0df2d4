/* common/cdof_zmq: whole messages over real ZeroMQ sockets while signals keep arriving. A thread
 * sends SIGUSR1 to the test thread without pause (its handler is installed without SA_RESTART,
 * as the daemons' are), and two-frame messages go over an inproc PAIR and a TCP ROUTER/DEALER
 * pair: each must arrive whole, in order. zmq's own calls fail such a frame with EINTR from time
 * to time, and the message after it then arrives torn (TEST_RAW_ZMQ=1 runs them instead, to see
 * it). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "cdof_zmq.h"

#define MESSAGES 500

static atomic_bool storm_on;
static atomic_ulong signals_taken;
static pthread_t target, stormer;
static bool storming;

static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&signals_taken, 1);
}

static void *storm(void *arg)
{
    (void)arg;
    /* As fast as they go: ZeroMQ enters the kernel only now and then (to look at its mailbox),
     * and a signal must be pending at that moment to fail the call. */
    while (atomic_load(&storm_on))
        pthread_kill(target, SIGUSR1);
    return NULL;
}

/* Starts the storm, and returns once it has begun: the first signals taken, within 10 s (the
 * test means something only if signals arrive while it runs). */
static void storm_start(void)
{
    unsigned long before = atomic_load(&signals_taken);
    atomic_store(&storm_on, true);
    assert_int_equal(pthread_create(&stormer, NULL, storm, NULL), 0);
    storming = true;
    for (int i = 0; i < 10000 && atomic_load(&signals_taken) - before < 10; i++)
        usleep(1000); /* cut short by the signals themselves: the bound is the count */
    assert_true(atomic_load(&signals_taken) - before >= 10);
}

/* Stops it (also after a failed assertion: the next test must run without it). */
static int storm_stop(void **state)
{
    (void)state;
    atomic_store(&storm_on, false);
    if (storming)
        pthread_join(stormer, NULL);
    storming = false;
    return 0;
}

/* zmq's own calls, in cdof_zmq's shape, for TEST_RAW_ZMQ=1. */
static int raw_send(void *sock, const void *buf, size_t len, int flags)
{
    return zmq_send(sock, buf, len, flags) < 0 ? -zmq_errno() : 0;
}
static int raw_msg_recv(zmq_msg_t *msg, void *sock, int flags)
{
    return zmq_msg_recv(msg, sock, flags) < 0 ? -zmq_errno() : 0;
}

static int (*send_fn)(void *, const void *, size_t, int) = cdof_zmq_send;
static int (*recv_fn)(zmq_msg_t *, void *, int) = cdof_zmq_msg_recv;

static int start_storm(void **state)
{
    (void)state;
    if (getenv("TEST_RAW_ZMQ") && strcmp(getenv("TEST_RAW_ZMQ"), "1") == 0) {
        send_fn = raw_send;
        recv_fn = raw_msg_recv;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART: poll and ZeroMQ see EINTR */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) < 0)
        return -1;
    target = pthread_self();
    return 0;
}

/* Receives the next whole message from sock: a frame with more set, then i's bytes without.
 * The first frame may take a moment (TCP); a receive a signal cut short is tried again by
 * recv_fn, or counted as a failure with raw calls. */
static void expect_message(void *sock, const char *head, uint32_t i)
{
    zmq_msg_t a, b;
    zmq_msg_init(&a);
    zmq_msg_init(&b);
    int rc = -EAGAIN;
    for (int tries = 0; tries < 1000 && (rc == -EAGAIN || rc == -EINTR); tries++)
        rc = recv_fn(&a, sock, 0); /* RCVTIMEO bounds each */
    assert_int_equal(rc, 0);
    assert_int_equal(zmq_msg_size(&a), strlen(head));
    assert_memory_equal(zmq_msg_data(&a), head, strlen(head));
    assert_true(zmq_msg_more(&a));
    assert_int_equal(recv_fn(&b, sock, ZMQ_DONTWAIT), 0);
    assert_int_equal(zmq_msg_size(&b), sizeof i);
    uint32_t got;
    memcpy(&got, zmq_msg_data(&b), sizeof got);
    assert_int_equal(got, i);
    assert_false(zmq_msg_more(&b));
    zmq_msg_close(&a);
    zmq_msg_close(&b);
}

static void exchange(void *from, void *to, const char *head)
{
    storm_start();
    for (uint32_t i = 0; i < MESSAGES; i++) {
        /* Not ZMQ_DONTWAIT: the sender learns of the receiver's reads only now and then, and
         * may think the pipe full; a send that waits for that news does not wait long. */
        assert_int_equal(send_fn(from, head, strlen(head), ZMQ_SNDMORE), 0);
        assert_int_equal(send_fn(from, &i, sizeof i, 0), 0);
        expect_message(to, head, i);
    }
    storm_stop(NULL);
}

static void *socket_of(void *zctx, int type)
{
    void *s = zmq_socket(zctx, type);
    assert_non_null(s);
    int linger = 0, timeout = 100;
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout), 0);
    return s;
}

static void test_inproc_pair(void **state)
{
    (void)state;
    void *zctx = zmq_ctx_new();
    void *a = socket_of(zctx, ZMQ_PAIR), *b = socket_of(zctx, ZMQ_PAIR);
    assert_int_equal(zmq_bind(a, "inproc://cdof-test-zmq"), 0);
    assert_int_equal(zmq_connect(b, "inproc://cdof-test-zmq"), 0);
    exchange(a, b, "head");
    exchange(b, a, "back");
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(zctx);
}

/* The hub's shape: a ROUTER sends the routing id, then the message, without waiting (as replies
 * and acknowledgements go); the DEALER receives the message without the id. */
static void test_tcp_router(void **state)
{
    (void)state;
    void *zctx = zmq_ctx_new();
    void *router = socket_of(zctx, ZMQ_ROUTER), *dealer = socket_of(zctx, ZMQ_DEALER);
    assert_int_equal(zmq_setsockopt(dealer, ZMQ_ROUTING_ID, "d", 1), 0);
    assert_int_equal(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
    char ep[64];
    size_t eplen = sizeof ep;
    assert_int_equal(zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &eplen), 0);
    assert_int_equal(zmq_connect(dealer, ep), 0);
    /* The ROUTER knows the DEALER once its first message has arrived. */
    assert_int_equal(zmq_send(dealer, "hello", 5, 0), 5);
    char buf[8];
    int n = -1;
    for (int i = 0; i < 100 && n < 0; i++)
        n = zmq_recv(router, buf, sizeof buf, 0); /* the id */
    assert_int_equal(n, 1);
    assert_int_equal(zmq_recv(router, buf, sizeof buf, 0), 5);
    storm_start();
    for (uint32_t i = 0; i < MESSAGES; i++) {
        assert_int_equal(send_fn(router, "d", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT), 0);
        assert_int_equal(send_fn(router, "head", 4, ZMQ_SNDMORE | ZMQ_DONTWAIT), 0);
        assert_int_equal(send_fn(router, &i, sizeof i, ZMQ_DONTWAIT), 0);
        expect_message(dealer, "head", i);
    }
    storm_stop(NULL);
    zmq_close(router);
    zmq_close(dealer);
    zmq_ctx_term(zctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test_teardown(test_inproc_pair, storm_stop),
                                       cmocka_unit_test_teardown(test_tcp_router, storm_stop)};
    return cmocka_run_group_tests(tests, start_storm, NULL);
}
