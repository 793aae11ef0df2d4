/* The memory floor of an agent: a process that loads what cdof-agent loads (libzmq with its
 * context thread and a connected DEALER, a libuv loop, an LMDB environment through the store)
 * and then waits. run.sh reads its resident memory next to the idle agent's, so the agent's
 * figure can be read as a ratio to what its libraries cost before it does anything. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "cdof_store.h"

static void on_timer(uv_timer_t *t)
{
    (void)t;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_floor DIR ENDPOINT\n");
        return 2;
    }
    char err[256];
    cdof_store_opts_t so = {.schema = "floor", .schema_version = 1};
    cdof_store_t *store = NULL;
    if (cdof_store_open(argv[1], &so, &store, err, sizeof err) < 0) {
        fprintf(stderr, "bench_floor: %s\n", err);
        return 1;
    }
    void *zctx = zmq_ctx_new(), *sock = zmq_socket(zctx, ZMQ_DEALER);
    zmq_connect(sock, argv[2]);
    uv_loop_t loop;
    uv_timer_t timer;
    uv_loop_init(&loop);
    uv_timer_init(&loop, &timer);
    uv_timer_start(&timer, on_timer, 1000, 1000);
    printf("ready\n");
    fflush(stdout);
    uv_run(&loop, UV_RUN_DEFAULT); /* until killed */
    return 0;
}
