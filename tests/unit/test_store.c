/* The LMDB store against real environments in temporary directories. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "cdof_error.h"
#include "cdof_log.h"
#include "cdof_store.h"

#define KIB ((size_t)1024)
#define MIB (KIB * 1024)

typedef struct {
    char dir[64];
} fixture_t;

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    char sub[512];
    struct stat st;

    if (!d) {
        unlink(path);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            rm_rf(sub);
        else
            unlink(sub);
    }
    closedir(d);
    rmdir(path);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);

    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/cdof-test-store-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    rm_rf(f->dir);
    free(f);
    return 0;
}

static cdof_store_opts_t opts(const char *schema, uint32_t version)
{
    cdof_store_opts_t o = {0};

    o.schema = schema;
    o.schema_version = version;
    o.no_sync = true; /* tests that need durability say so */
    return o;
}

static cdof_store_t *open_ok(const char *dir, const cdof_store_opts_t *o)
{
    cdof_store_t *s = NULL;
    char err[256] = "";
    int rc = cdof_store_open(dir, o, &s, err, sizeof err);

    if (rc != 0)
        print_error("open %s: %s (%s)\n", dir, cdof_strerror(rc), err);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

static void subdir(const fixture_t *f, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", f->dir, name);
    assert_int_equal(mkdir(out, 0700), 0);
}

/* Waits at most limit_ms for a child; kills it when it overstays. Returns its wait status. */
static int wait_child(pid_t pid, int limit_ms)
{
    int status = 0;
    struct timespec tick = {0, 10 * 1000 * 1000};

    for (int waited = 0; waited < limit_ms; waited += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        assert_int_equal(r, 0);
        nanosleep(&tick, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fail_msg("child %d did not finish within %d ms", (int)pid, limit_ms);
    return status;
}

static void assert_child_ok(pid_t pid, int limit_ms)
{
    int status = wait_child(pid, limit_ms);

    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("child failed: %s %d", WIFEXITED(status) ? "exit" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/* Blocks for one byte from fd, at most limit_ms. Returns 1, 0 at EOF, -1 on time-out. */
static int read_byte(int fd, int limit_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    char c;

    if (poll(&p, 1, limit_ms) != 1)
        return -1;
    return (int)read(fd, &c, 1);
}

static void test_be_codec(void **state)
{
    uint8_t b[8];

    (void)state;
    cdof_store_be16(b, 0x1234);
    assert_int_equal(b[0], 0x12);
    assert_int_equal(cdof_store_rd16(b), 0x1234);
    cdof_store_be32(b, 0xdeadbeefu);
    assert_int_equal(b[0], 0xde);
    assert_int_equal(b[3], 0xef);
    assert_int_equal(cdof_store_rd32(b), 0xdeadbeefu);
    cdof_store_be64(b, 0x0102030405060708ull);
    assert_int_equal(b[0], 1);
    assert_int_equal(b[7], 8);
    assert_true(cdof_store_rd64(b) == 0x0102030405060708ull);
    /* Days: round trip, and byte order is day order across the sign. */
    const int32_t days[] = {INT32_MIN, -719162, -1, 0, 1, 19844, INT32_MAX};
    uint8_t prev[4];
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
        cdof_store_be_day(b, days[i]);
        assert_int_equal(cdof_store_rd_day(b), days[i]);
        if (i)
            assert_true(memcmp(prev, b, 4) < 0);
        memcpy(prev, b, 4);
    }
}

static void test_put_get_del(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("hub", 1);
    cdof_store_t *s = open_ok(f->dir, &o);
    cdof_store_txn_t *t = NULL, *t2 = NULL;
    cdof_store_db_t db, other;
    cdof_bytes_t v;
    uint8_t big[481];

    memset(big, 'k', sizeof big);
    assert_int_equal(cdof_store_db(s, "t", &db), 0);
    assert_int_equal(cdof_store_db(s, "t", &other), 0);
    assert_int_equal(db, other);

    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    assert_int_equal(cdof_store_put(t, db, "alpha", 5, "one", 3), 0);
    assert_int_equal(cdof_store_get(t, db, "alpha", 5, &v), 0);
    assert_int_equal(v.len, 3);
    assert_memory_equal(v.data, "one", 3);
    assert_int_equal(cdof_store_put(t, db, "alpha", 5, "uno", 3), 0);
    assert_int_equal(cdof_store_get(t, db, "alpha", 5, &v), 0);
    assert_memory_equal(v.data, "uno", 3);
    assert_int_equal(cdof_store_get(t, db, "beta", 4, &v), CDOF_ENOTFOUND);
    assert_int_equal(cdof_store_put(t, db, "beta", 4, NULL, 0), 0);
    assert_int_equal(cdof_store_get(t, db, "beta", 4, &v), 0);
    assert_int_equal(v.len, 0);
    assert_int_equal(cdof_store_del(t, db, "beta", 4), 0);
    assert_int_equal(cdof_store_del(t, db, "beta", 4), CDOF_ENOTFOUND);
    assert_int_equal(cdof_store_get(t, db, "beta", 4, &v), CDOF_ENOTFOUND);

    /* Key limits; a refused key does not poison the transaction. */
    assert_int_equal(cdof_store_put(t, db, big, 480, "x", 1), 0);
    assert_int_equal(cdof_store_put(t, db, big, 481, "x", 1), -EINVAL);
    assert_int_equal(cdof_store_get(t, db, big, 481, &v), -EINVAL);
    assert_int_equal(cdof_store_put(t, db, "", 0, "x", 1), -EINVAL);

    /* One write transaction per thread: a second would wait for itself. */
    assert_int_equal(cdof_store_begin(s, true, &t2), -EDEADLK);
    assert_null(t2);
    assert_int_equal(cdof_store_db(s, "new", &other), -EDEADLK);
    assert_int_equal(cdof_store_commit(&t), 0);
    assert_null(t);

    assert_int_equal(cdof_store_begin(s, false, &t), 0);
    assert_int_equal(cdof_store_get(t, db, "alpha", 5, &v), 0);
    assert_memory_equal(v.data, "uno", 3);
    assert_int_equal(cdof_store_get(t, db, big, 480, &v), 0);
    assert_int_equal(cdof_store_put(t, db, "gamma", 5, "x", 1), -EACCES);
    assert_int_equal(cdof_store_del(t, db, "alpha", 5), -EACCES);
    /* Readers may overlap each other and a writer. */
    assert_int_equal(cdof_store_begin(s, false, &t2), 0);
    cdof_store_abort(&t2);
    assert_null(t2);
    assert_int_equal(cdof_store_begin(s, true, &t2), 0);
    assert_int_equal(cdof_store_del(t2, db, "alpha", 5), 0);
    assert_int_equal(cdof_store_commit(&t2), 0);
    assert_int_equal(cdof_store_get(t, db, "alpha", 5, &v), 0); /* its snapshot */
    assert_int_equal(cdof_store_commit(&t), 0);

    /* An aborted write leaves nothing. */
    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    assert_int_equal(cdof_store_put(t, db, "gone", 4, "x", 1), 0);
    cdof_store_abort(&t);
    assert_int_equal(cdof_store_begin(s, false, &t), 0);
    assert_int_equal(cdof_store_get(t, db, "gone", 4, &v), CDOF_ENOTFOUND);
    assert_int_equal(cdof_store_get(t, db, "alpha", 5, &v), CDOF_ENOTFOUND);
    assert_int_equal(cdof_store_commit(&t), 0);

    cdof_store_abort(NULL);
    cdof_store_close(&s);
    assert_null(s);
    cdof_store_close(&s);
}

typedef struct {
    uint32_t seen[64];
    int n;
    int stop_after; /* 0: never */
} collect_t;

/* Walks the keys k with from <= k < to with a cursor (cdof_store_cursor_range), keeping each in
 * c (4-byte keys, each its own value), and leaves the walk once c->stop_after keys are kept.
 * Returns the last move's result: 0 when the keys ran out, 1 when left early, or a failure. */
static int collect_range(cdof_store_txn_t *t, cdof_store_db_t db, const void *from, size_t flen,
                         const void *to, size_t tlen, collect_t *c)
{
    cdof_store_cursor_t *cur = NULL;
    cdof_bytes_t k, v;
    int rc = cdof_store_cursor_open(t, db, &cur);

    for (rc = rc < 0 ? rc : cdof_store_cursor_range(cur, from, flen, to, tlen, &k, &v); rc > 0;
         rc = cdof_store_cursor_next(cur, &k, &v)) {
        assert_int_equal(k.len, 4);
        assert_int_equal(v.len, 4);
        assert_memory_equal(k.data, v.data, 4);
        assert_true(c->n < 64);
        c->seen[c->n++] = cdof_store_rd32(k.data);
        if (c->stop_after && c->n == c->stop_after)
            break;
    }
    cdof_store_cursor_close(&cur);
    return rc;
}

static const uint32_t walk_values[] = {
    0,           1,           255,        256, 257, 65535, 65536, 7000000, 1u << 24, (1u << 24) + 1,
    0x7fffffffu, 0x80000000u, 0xfffffffeu};
#define N_WALK (sizeof walk_values / sizeof walk_values[0])

/* swap: the new value in and the old one out in one search (the points' history). */
static void test_swap(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("hub", 1);
    cdof_store_t *s = open_ok(f->dir, &o);
    cdof_store_txn_t *t = NULL;
    cdof_store_db_t db;
    cdof_bytes_t v;
    char old[8];
    size_t olen = 0;

    assert_int_equal(cdof_store_db(s, "t", &db), 0);
    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    assert_int_equal(cdof_store_swap(t, db, "k", 1, "one", 3, old, sizeof old, &olen), 0);
    assert_int_equal(cdof_store_swap(t, db, "k", 1, "three", 5, old, sizeof old, &olen), 1);
    assert_int_equal(olen, 3);
    assert_memory_equal(old, "one", 3);
    assert_int_equal(cdof_store_swap(t, db, "k", 1, "two", 3, old, sizeof old, &olen), 1);
    assert_int_equal(olen, 5);
    assert_memory_equal(old, "three", 5);
    /* An old value longer than the buffer: refused, and the stored value stays. */
    assert_int_equal(cdof_store_swap(t, db, "k", 1, "four", 4, old, 2, &olen), -ENOBUFS);
    assert_int_equal(cdof_store_get(t, db, "k", 1, &v), 0);
    assert_int_equal(v.len, 3);
    assert_memory_equal(v.data, "two", 3);
    assert_int_equal(cdof_store_commit(&t), 0);

    assert_int_equal(cdof_store_begin(s, false, &t), 0);
    assert_int_equal(cdof_store_swap(t, db, "k", 1, "x", 1, old, sizeof old, &olen), -EACCES);
    cdof_store_abort(&t);
    cdof_store_close(&s);
}

/* A cursor walks a range in key order, from inclusive and to exclusive, may be left part way,
 * and finds nothing in an empty database. */
static void test_cursor_order_and_bounds(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("hub", 1);
    cdof_store_t *s = open_ok(f->dir, &o);
    cdof_store_txn_t *t = NULL;
    cdof_store_db_t db, empty;
    cdof_bytes_t k, v;
    uint8_t key[4], from[4], to[4];
    collect_t c;
    uint64_t n;

    assert_int_equal(cdof_store_db(s, "nums", &db), 0);
    assert_int_equal(cdof_store_db(s, "empty", &empty), 0);
    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    /* Insert in a scrambled order; big-endian keys must come back in numeric order. */
    for (size_t i = 0; i < N_WALK; i++) {
        uint32_t x = walk_values[(i * 7) % N_WALK];
        cdof_store_be32(key, x);
        assert_int_equal(cdof_store_put(t, db, key, 4, key, 4), 0);
    }
    assert_int_equal(cdof_store_commit(&t), 0);

    assert_int_equal(cdof_store_begin(s, false, &t), 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(collect_range(t, db, NULL, 0, NULL, 0, &c), 0);
    assert_int_equal(c.n, N_WALK);
    for (size_t i = 0; i < N_WALK; i++)
        assert_true(c.seen[i] == walk_values[i]);

    /* [256, 2^24): from is inclusive, to exclusive. */
    cdof_store_be32(from, 256);
    cdof_store_be32(to, 1u << 24);
    memset(&c, 0, sizeof c);
    assert_int_equal(collect_range(t, db, from, 4, to, 4, &c), 0);
    assert_int_equal(c.n, 5);
    assert_int_equal(c.seen[0], 256);
    assert_int_equal(c.seen[4], 7000000);

    /* A from between keys starts at the next; a to past the end runs to the end. */
    cdof_store_be32(from, (1u << 24) + 2);
    memset(&c, 0, sizeof c);
    assert_int_equal(collect_range(t, db, from, 4, NULL, 0, &c), 0);
    assert_int_equal(c.n, 3);
    assert_true(c.seen[0] == 0x7fffffff);
    /* A shorter bound sorts before longer keys sharing it: "\x00\x00\x01" < be32(256). */
    memset(&c, 0, sizeof c);
    assert_int_equal(collect_range(t, db, NULL, 0, "\x00\x00\x01", 3, &c), 0);
    assert_int_equal(c.n, 3);
    /* Empty range. */
    cdof_store_be32(from, 300);
    cdof_store_be32(to, 300);
    memset(&c, 0, sizeof c);
    assert_int_equal(collect_range(t, db, from, 4, to, 4, &c), 0);
    assert_int_equal(c.n, 0);

    /* A walk left part way leaves the transaction as it was: a walk from the next key finds
     * the rest, and a whole walk all of them. */
    memset(&c, 0, sizeof c);
    c.stop_after = 3;
    assert_int_equal(collect_range(t, db, NULL, 0, NULL, 0, &c), 1);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.seen[2], 255);
    cdof_store_be32(from, c.seen[2] + 1);
    memset(&c, 0, sizeof c);
    assert_int_equal(collect_range(t, db, from, 4, NULL, 0, &c), 0);
    assert_int_equal(c.n, N_WALK - 3);
    assert_int_equal(c.seen[0], 256);
    memset(&c, 0, sizeof c);
    assert_int_equal(collect_range(t, db, NULL, 0, NULL, 0, &c), 0);
    assert_int_equal(c.n, N_WALK);

    /* Bounds that are no keys are refused before the cursor moves (keys are 1 to 480 bytes). */
    static const uint8_t long_key[1024];
    memset(&c, 0, sizeof c);
    assert_int_equal(collect_range(t, db, NULL, 4, NULL, 0, &c), -EINVAL);
    assert_int_equal(collect_range(t, db, NULL, 0, NULL, 4, &c), -EINVAL);
    assert_int_equal(collect_range(t, db, long_key, 481, NULL, 0, &c), -EINVAL);
    assert_int_equal(collect_range(t, db, NULL, 0, long_key, sizeof long_key, &c), -EINVAL);
    assert_int_equal(collect_range(NULL, db, NULL, 0, NULL, 0, &c), -EINVAL);
    assert_int_equal(c.n, 0);

    assert_int_equal(cdof_store_last(t, db, &k, &v), 0);
    assert_int_equal(k.len, 4);
    assert_true(cdof_store_rd32(k.data) == 0xfffffffeu);
    assert_int_equal(cdof_store_count(t, db, &n), 0);
    assert_int_equal(n, N_WALK);

    assert_int_equal(cdof_store_last(t, empty, &k, &v), CDOF_ENOTFOUND);
    assert_int_equal(cdof_store_count(t, empty, &n), 0);
    assert_int_equal(n, 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(collect_range(t, empty, NULL, 0, NULL, 0, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(cdof_store_commit(&t), 0);
    cdof_store_close(&s);
}

typedef struct {
    char keys[16][8];
    size_t lens[16];
    int n;
} collect_raw_t;

/* Walks the keys starting with prefix with a cursor (cdof_store_cursor_prefix), keeping each in
 * c. Returns the last move's result: 0 when the keys ran out, or a failure. */
static int collect_prefix(cdof_store_txn_t *t, cdof_store_db_t db, const void *prefix, size_t plen,
                          collect_raw_t *c)
{
    cdof_store_cursor_t *cur = NULL;
    cdof_bytes_t k;
    int rc = cdof_store_cursor_open(t, db, &cur);

    for (rc = rc < 0 ? rc : cdof_store_cursor_prefix(cur, prefix, plen, &k, NULL); rc > 0;
         rc = cdof_store_cursor_next(cur, &k, NULL)) {
        assert_true(c->n < 16 && k.len <= 8);
        memcpy(c->keys[c->n], k.data, k.len);
        c->lens[c->n++] = k.len;
    }
    cdof_store_cursor_close(&cur);
    return rc;
}

/* A prefix walk gives exactly the keys that start with it, in order, including the prefix
 * itself and keys past a run of 0xff bytes. */
static void test_cursor_prefix_keys(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("hub", 1);
    cdof_store_t *s = open_ok(f->dir, &o);
    cdof_store_txn_t *t = NULL;
    cdof_store_db_t db;
    collect_raw_t c;
    static const struct {
        const char *k;
        size_t len;
    } keys[] = {{"aa\xff", 3},     {"ab", 2}, {"ab\x00", 3}, {"ab\x01", 3}, {"ab\xff", 3},
                {"ab\xff\xff", 4}, {"ac", 2}, {"b", 1},      {"\xff", 1},   {"\xff\x01", 2}};

    assert_int_equal(cdof_store_db(s, "p", &db), 0);
    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_int_equal(cdof_store_put(t, db, keys[i].k, keys[i].len, "v", 1), 0);
    assert_int_equal(cdof_store_commit(&t), 0);

    assert_int_equal(cdof_store_begin(s, false, &t), 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(collect_prefix(t, db, "ab", 2, &c), 0);
    assert_int_equal(c.n, 5);
    assert_int_equal(c.lens[0], 2);
    assert_memory_equal(c.keys[4], "ab\xff\xff", 4);

    memset(&c, 0, sizeof c);
    assert_int_equal(collect_prefix(t, db, "ab\xff", 3, &c), 0);
    assert_int_equal(c.n, 2);

    memset(&c, 0, sizeof c);
    assert_int_equal(collect_prefix(t, db, "\xff", 1, &c), 0);
    assert_int_equal(c.n, 2);

    memset(&c, 0, sizeof c);
    assert_int_equal(collect_prefix(t, db, "abc", 3, &c), 0);
    assert_int_equal(c.n, 0);

    memset(&c, 0, sizeof c);
    assert_int_equal(collect_prefix(t, db, NULL, 0, &c), 0);
    assert_int_equal(c.n, 10);
    assert_memory_equal(c.keys[9], "\xff\x01", 2);

    memset(&c, 0, sizeof c);
    assert_int_equal(collect_prefix(t, db, NULL, 1, &c), -EINVAL);
    static const uint8_t long_key[481];
    assert_int_equal(collect_prefix(t, db, long_key, sizeof long_key, &c), -EINVAL);
    assert_int_equal(c.n, 0);
    assert_int_equal(cdof_store_commit(&t), 0);
    cdof_store_close(&s);
}

/* A walk over a range may delete and put through the transaction as it goes: each key k is
 * moved to k + 1000, past the range, and the walk visits each original key once. */
static void test_cursor_move_keys_past_range(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("hub", 1);
    cdof_store_t *s = open_ok(f->dir, &o);
    cdof_store_txn_t *t = NULL;
    cdof_store_db_t db;
    cdof_store_cursor_t *c = NULL;
    uint8_t k[4], nk[4], to[4];
    uint32_t expect = 0;
    uint64_t n;
    cdof_bytes_t key, v;
    int rc;

    assert_int_equal(cdof_store_db(s, "m", &db), 0);
    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    for (uint32_t i = 0; i < 500; i++) {
        cdof_store_be32(k, i);
        assert_int_equal(cdof_store_put(t, db, k, 4, "orig", 4), 0);
    }
    assert_int_equal(cdof_store_commit(&t), 0);

    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    cdof_store_be32(to, 500);
    assert_int_equal(cdof_store_cursor_open(t, db, &c), 0);
    for (rc = cdof_store_cursor_range(c, NULL, 0, to, 4, &key, &v); rc > 0;
         rc = cdof_store_cursor_next(c, &key, &v)) {
        uint32_t x = cdof_store_rd32(key.data);
        assert_int_equal(x, expect);
        expect++;
        cdof_store_be32(nk, x + 1000);
        assert_int_equal(cdof_store_del(t, db, key.data, key.len), 0);
        assert_int_equal(cdof_store_put(t, db, nk, 4, "moved", 5), 0);
    }
    cdof_store_cursor_close(&c);
    assert_int_equal(rc, 0);
    assert_int_equal(expect, 500);
    assert_int_equal(cdof_store_count(t, db, &n), 0);
    assert_int_equal(n, 500);
    cdof_store_be32(k, 1499);
    assert_int_equal(cdof_store_get(t, db, k, 4, &v), 0);
    assert_memory_equal(v.data, "moved", 5);
    cdof_store_be32(k, 499);
    assert_int_equal(cdof_store_get(t, db, k, 4, &v), CDOF_ENOTFOUND);
    assert_int_equal(cdof_store_commit(&t), 0);
    cdof_store_close(&s);
}

/* Cursors: seek lands on the first key >= the one asked, a prefix or range keeps next within it,
 * 0 marks the end, and current re-reads the key the cursor is on. */
static void test_cursor_moves(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("hub", 1);
    cdof_store_t *s = open_ok(f->dir, &o);
    cdof_store_txn_t *t = NULL;
    cdof_store_db_t db, empty;
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t k, v;
    static const struct {
        const char *k;
        size_t len;
    } keys[] = {{"aa\xff", 3},     {"ab", 2}, {"ab\x00", 3}, {"ab\x01", 3}, {"ab\xff", 3},
                {"ab\xff\xff", 4}, {"ac", 2}, {"b", 1},      {"\xff", 1},   {"\xff\x01", 2}};
    size_t nkeys = sizeof keys / sizeof keys[0];

    assert_int_equal(cdof_store_db(s, "c", &db), 0);
    assert_int_equal(cdof_store_db(s, "e", &empty), 0);
    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    for (size_t i = 0; i < nkeys; i++) {
        char val[8];
        snprintf(val, sizeof val, "v%zu", i);
        assert_int_equal(cdof_store_put(t, db, keys[i].k, keys[i].len, val, strlen(val)), 0);
    }
    assert_int_equal(cdof_store_commit(&t), 0);

    assert_int_equal(cdof_store_begin(s, false, &t), 0);
    assert_int_equal(cdof_store_cursor_open(t, db, &c), 0);
    /* On nothing before the first move. */
    assert_int_equal(cdof_store_cursor_next(c, &k, &v), 0);
    assert_int_equal(cdof_store_cursor_current(c, &k, &v), 0);

    /* The whole database, in key order, then 0 and 0 again. */
    size_t n = 0;
    int rc;
    for (rc = cdof_store_cursor_seek(c, NULL, 0, &k, &v); rc > 0;
         rc = cdof_store_cursor_next(c, &k, &v)) {
        assert_true(n < nkeys);
        assert_int_equal(k.len, keys[n].len);
        assert_memory_equal(k.data, keys[n].k, k.len);
        char val[8];
        snprintf(val, sizeof val, "v%zu", n);
        assert_int_equal(v.len, strlen(val));
        assert_memory_equal(v.data, val, v.len);
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, nkeys);
    assert_int_equal(cdof_store_cursor_next(c, &k, &v), 0);

    /* Seek between keys: the next one; past the last: 0. Key or value may be left out. */
    assert_int_equal(cdof_store_cursor_seek(c, "ab\x00\x01", 4, &k, NULL), 1);
    assert_int_equal(k.len, 3);
    assert_memory_equal(k.data, "ab\x01", 3);
    assert_int_equal(cdof_store_cursor_current(c, NULL, &v), 1);
    assert_memory_equal(v.data, "v3", 2);
    assert_int_equal(cdof_store_cursor_seek(c, "\xff\x02", 2, &k, &v), 0);
    assert_int_equal(cdof_store_cursor_current(c, &k, &v), 0);

    /* A prefix keeps next within it: "ab" has five keys, "ab\xff" two, "\xff" two (no bound
     * past an all-0xff prefix), "abc" none. */
    static const struct {
        const char *p;
        size_t len;
        size_t n;
    } prefixes[] = {{"ab", 2, 5}, {"ab\xff", 3, 2}, {"\xff", 1, 2}, {"abc", 3, 0}, {"", 0, 10}};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        n = 0;
        for (rc = cdof_store_cursor_prefix(c, prefixes[i].p, prefixes[i].len, &k, &v); rc > 0;
             rc = cdof_store_cursor_next(c, &k, &v)) {
            assert_true(cdof_store_has_prefix(&k, prefixes[i].p, prefixes[i].len));
            n++;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(n, prefixes[i].n);
    }
    /* A seek after a prefix drops its bound. */
    assert_int_equal(cdof_store_cursor_prefix(c, "ab\xff", 3, &k, &v), 1);
    assert_int_equal(cdof_store_cursor_seek(c, "ab\xff\xff", 4, &k, &v), 1);
    assert_int_equal(cdof_store_cursor_next(c, &k, &v), 1);
    assert_memory_equal(k.data, "ac", 2);

    /* A range: from inclusive, to exclusive; a shorter bound sorts before longer keys. */
    n = 0;
    for (rc = cdof_store_cursor_range(c, "ab\x00", 3, "ab\xff", 3, &k, &v); rc > 0;
         rc = cdof_store_cursor_next(c, &k, &v))
        n++;
    assert_int_equal(rc, 0);
    assert_int_equal(n, 2);
    assert_int_equal(cdof_store_cursor_range(c, "b", 1, "b", 1, &k, &v), 0);

    assert_false(cdof_store_has_prefix(&(cdof_bytes_t){"a", 1}, "ab", 2));
    assert_true(cdof_store_has_prefix(&(cdof_bytes_t){"a", 1}, NULL, 0));
    assert_int_equal(cdof_store_cursor_del(c), -EACCES);
    assert_int_equal(cdof_store_cursor_range(c, NULL, 1, NULL, 0, &k, &v), -EINVAL);
    cdof_store_cursor_close(&c);
    assert_null(c);
    cdof_store_cursor_close(&c);

    /* An empty database: every move gives 0. */
    assert_int_equal(cdof_store_cursor_open(t, empty, &c), 0);
    assert_int_equal(cdof_store_cursor_seek(c, NULL, 0, &k, &v), 0);
    assert_int_equal(cdof_store_cursor_prefix(c, "a", 1, &k, &v), 0);
    assert_int_equal(cdof_store_cursor_next(c, &k, &v), 0);
    cdof_store_cursor_close(&c);

    /* Values point into the map and stay valid until the read transaction ends, across moves. */
    cdof_bytes_t first;
    assert_int_equal(cdof_store_cursor_open(t, db, &c), 0);
    assert_int_equal(cdof_store_cursor_seek(c, NULL, 0, NULL, &first), 1);
    while (cdof_store_cursor_next(c, &k, &v) > 0)
        ;
    assert_memory_equal(first.data, "v0", 2);
    /* A cursor left open is released with its transaction; closing it afterwards only frees. */
    assert_int_equal(cdof_store_commit(&t), 0);
    assert_int_equal(cdof_store_cursor_next(c, &k, &v), -EBADF);
    cdof_store_cursor_close(&c);
    cdof_store_close(&s);
}

/* In a write transaction the caller may delete and put between moves: next goes on after the
 * last key returned, never revisiting a key put behind it nor skipping one ahead. */
static void test_cursor_write_between_moves(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("hub", 1);
    cdof_store_t *s = open_ok(f->dir, &o);
    cdof_store_txn_t *t = NULL;
    cdof_store_db_t db;
    cdof_store_cursor_t *c = NULL, *other = NULL;
    cdof_bytes_t k, v;
    uint8_t key[4];
    uint64_t n;

    assert_int_equal(cdof_store_db(s, "w", &db), 0);
    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    for (uint32_t i = 0; i < 1000; i++) {
        cdof_store_be32(key, i * 2);
        assert_int_equal(cdof_store_put(t, db, key, 4, "orig", 4), 0);
    }
    assert_int_equal(cdof_store_commit(&t), 0);

    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    assert_int_equal(cdof_store_cursor_open(t, db, &c), 0);
    /* Delete every key below 2000 with the cursor; behind it put x - 1 (never visited) and past
     * the bound x + 100000 (never visited); once, just ahead of it, 11 (visited next). */
    uint8_t to[4];
    cdof_store_be32(to, 2000);
    uint32_t expect = 0;
    size_t visited = 0;
    int rc;
    for (rc = cdof_store_cursor_range(c, NULL, 0, to, 4, &k, &v); rc > 0;
         rc = cdof_store_cursor_next(c, &k, &v)) {
        uint32_t x = cdof_store_rd32(k.data);
        assert_int_equal(x, expect);
        visited++;
        if (x % 2 == 0) {
            assert_memory_equal(v.data, "orig", 4);
            assert_int_equal(cdof_store_cursor_del(c), 0);
            assert_int_equal(cdof_store_cursor_current(c, &k, &v), 0);
            assert_int_equal(cdof_store_cursor_del(c), CDOF_ENOTFOUND);
            if (x > 0) {
                cdof_store_be32(key, x - 1);
                assert_int_equal(cdof_store_put(t, db, key, 4, "odd", 3), 0);
            }
            cdof_store_be32(key, x + 100000);
            assert_int_equal(cdof_store_put(t, db, key, 4, "far", 3), 0);
            if (x == 10) {
                cdof_store_be32(key, 11);
                assert_int_equal(cdof_store_put(t, db, key, 4, "new", 3), 0);
            }
        } else {
            assert_memory_equal(v.data, "new", 3);
        }
        expect = x == 10 ? 11 : x == 11 ? 12 : x + 2;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(expect, 2000);
    assert_int_equal(visited, 1001);
    assert_int_equal(cdof_store_count(t, db, &n), 0);
    assert_int_equal(n, 999 + 1000); /* odd keys 1..1997 and the far ones */

    /* A put over the key the cursor is on shows in current; a second cursor on the same
     * database sees the first one's deletions. */
    cdof_store_be32(key, 1);
    assert_int_equal(cdof_store_cursor_seek(c, key, 4, &k, &v), 1);
    assert_memory_equal(v.data, "odd", 3);
    assert_int_equal(cdof_store_put(t, db, key, 4, "new", 3), 0);
    assert_int_equal(cdof_store_cursor_current(c, &k, &v), 1);
    assert_memory_equal(v.data, "new", 3);
    assert_int_equal(cdof_store_cursor_open(t, db, &other), 0);
    assert_int_equal(cdof_store_cursor_seek(other, NULL, 0, &k, &v), 1);
    assert_int_equal(cdof_store_rd32(k.data), 1);
    /* Left open across the abort: released with the transaction. */
    cdof_store_abort(&t);
    cdof_store_cursor_close(&c);
    cdof_store_cursor_close(&other);

    /* Nothing was committed. */
    assert_int_equal(cdof_store_begin(s, false, &t), 0);
    assert_int_equal(cdof_store_count(t, db, &n), 0);
    assert_int_equal(n, 1000);
    cdof_store_abort(&t);
    cdof_store_close(&s);
}

/* An owner that accepts older versions sees which one it got and upgrades in its transaction. */
static void test_schema_upgrade(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t v1 = opts("outbox", 1), v2 = opts("outbox", 2), v3 = opts("outbox", 3);
    cdof_store_t *s = open_ok(f->dir, &v1);
    char err[256];
    cdof_store_close(&s);

    v2.min_schema_version = 1;
    s = open_ok(f->dir, &v2);
    assert_int_equal(cdof_store_schema_version(s), 1);
    cdof_store_txn_t *t = NULL;
    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    assert_int_equal(cdof_store_set_version(t, 2), 0);
    assert_int_equal(cdof_store_commit(&t), 0);
    assert_int_equal(cdof_store_schema_version(s), 2);
    cdof_store_close(&s);

    /* Recorded: version 1 alone is refused now, version 2 alone opens. */
    assert_int_equal(cdof_store_open(f->dir, &v1, &s, err, sizeof err), CDOF_EVERSION);
    v2.min_schema_version = 0;
    s = open_ok(f->dir, &v2);
    assert_int_equal(cdof_store_schema_version(s), 2);
    cdof_store_close(&s);
    /* A range never admits a newer store than the owner knows. */
    v3.min_schema_version = 1;
    s = open_ok(f->dir, &v3);
    cdof_store_close(&s);
    cdof_store_opts_t v1_only = opts("outbox", 1);
    v1_only.min_schema_version = 1;
    assert_int_equal(cdof_store_open(f->dir, &v1_only, &s, err, sizeof err), CDOF_EVERSION);
}

static void test_schema_mismatch(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t hub2 = opts("hub", 2), outbox1 = opts("outbox", 1), hub3 = opts("hub", 3),
                      hub1 = opts("hub", 1);
    cdof_store_t *s = open_ok(f->dir, &hub2);
    char err[256];
    int rc;

    cdof_store_close(&s);

    rc = cdof_store_open(f->dir, &outbox1, &s, err, sizeof err);
    assert_int_equal(rc, CDOF_EVERSION);
    assert_null(s);
    assert_non_null(strstr(err, f->dir));
    assert_non_null(strstr(err, "is schema 'hub' version 2, expected 'outbox' version 1"));

    rc = cdof_store_open(f->dir, &hub3, &s, err, sizeof err);
    assert_int_equal(rc, CDOF_EVERSION);
    assert_non_null(strstr(err, "expected 'hub' version 3"));
    rc = cdof_store_open(f->dir, &hub1, &s, err, sizeof err);
    assert_int_equal(rc, CDOF_EVERSION);

    /* A refused open leaves the directory unlocked and the store as it was. */
    s = open_ok(f->dir, &hub2);
    cdof_store_close(&s);

    rc = cdof_store_open("/nonexistent/cdof", &hub2, &s, err, sizeof err);
    assert_int_equal(rc, -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/cdof"));
}

static void test_second_writer_refused(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("outbox", 1);
    cdof_store_t *s = open_ok(f->dir, &o), *s2 = NULL;
    char err[256], pid[32];
    int rc;

    rc = cdof_store_open(f->dir, &o, &s2, err, sizeof err);
    assert_int_equal(rc, CDOF_ELOCKED);
    assert_null(s2);
    assert_non_null(strstr(err, "in use by another process"));
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    assert_non_null(strstr(err, pid));
    cdof_store_close(&s);

    s2 = open_ok(f->dir, &o);
    cdof_store_close(&s2);
}

/* The child's checks, as exit codes (cmocka's asserts belong to the parent). */
static int child_read_only_checks(const char *dir, bool expect_pending)
{
    cdof_store_opts_t o = opts("outbox", 1);
    cdof_store_t *s = NULL;
    cdof_store_txn_t *t = NULL;
    cdof_store_db_t db, none;
    cdof_bytes_t v;
    uint64_t n;
    int rc;

    o.read_only = true;
    if (cdof_store_open(dir, &o, &s, NULL, 0) != 0)
        return 10;
    if (cdof_store_db(s, "q", &db) != 0)
        return 11;
    if (cdof_store_db(s, "never-created", &none) != CDOF_ENOTFOUND)
        return 12;
    if (cdof_store_begin(s, true, &t) != -EROFS)
        return 13;
    if (cdof_store_begin(s, false, &t) != 0)
        return 14;
    if (cdof_store_get(t, db, "committed", 9, &v) != 0 || v.len != 3 ||
        memcmp(v.data, "yes", 3) != 0)
        return 15;
    rc = cdof_store_get(t, db, "pending", 7, &v);
    if (expect_pending ? rc != 0 : rc != CDOF_ENOTFOUND)
        return 16;
    if (cdof_store_count(t, db, &n) != 0 || n != (expect_pending ? 2u : 1u))
        return 17;
    cdof_store_abort(&t);
    cdof_store_close(&s);
    return 0;
}

static void test_read_only_while_writing(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("outbox", 1), ro = opts("outbox", 1);
    cdof_store_t *s = NULL;
    cdof_store_txn_t *t = NULL;
    cdof_store_db_t db;
    char err[256];
    pid_t pid;

    ro.read_only = true;
    assert_int_equal(cdof_store_open(f->dir, &ro, &s, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "no store in"));

    s = open_ok(f->dir, &o);
    assert_int_equal(cdof_store_db(s, "q", &db), 0);
    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    assert_int_equal(cdof_store_put(t, db, "committed", 9, "yes", 3), 0);
    assert_int_equal(cdof_store_commit(&t), 0);

    /* A reader in another process, while this one holds a write transaction open. */
    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    assert_int_equal(cdof_store_put(t, db, "pending", 7, "not yet", 7), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_read_only_checks(f->dir, false));
    assert_child_ok(pid, 20000);
    assert_int_equal(cdof_store_commit(&t), 0);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_read_only_checks(f->dir, true));
    assert_child_ok(pid, 20000);
    cdof_store_close(&s);
}

#define VAL_LEN 1024

static void fill_value(uint8_t *buf, uint32_t k)
{
    for (size_t i = 0; i < VAL_LEN; i++)
        buf[i] = (uint8_t)(k * 31 + i);
}

/* Writes keys [first, first + n) in transactions of per_txn, 1 KiB values. Returns the first
 * failing code, or 0. */
static int write_values(cdof_store_t *s, cdof_store_db_t db, uint32_t first, uint32_t n,
                        uint32_t per_txn, uint32_t *written)
{
    uint8_t key[4], val[VAL_LEN];
    cdof_store_txn_t *t = NULL;
    int rc = 0;

    *written = 0;
    for (uint32_t b = 0; b < n; b += per_txn) {
        if ((rc = cdof_store_begin(s, true, &t)) != 0)
            return rc;
        for (uint32_t i = b; i < b + per_txn && i < n; i++) {
            cdof_store_be32(key, first + i);
            fill_value(val, first + i);
            if ((rc = cdof_store_put(t, db, key, 4, val, sizeof val)) != 0) {
                assert_int_equal(cdof_store_commit(&t), rc); /* poisoned */
                return rc;
            }
        }
        if ((rc = cdof_store_commit(&t)) != 0)
            return rc;
        *written = b + per_txn < n ? b + per_txn : n;
    }
    return 0;
}

static void check_values(cdof_store_t *s, cdof_store_db_t db, uint32_t first, uint32_t n,
                         uint32_t stride)
{
    uint8_t key[4], val[VAL_LEN];
    cdof_store_txn_t *t = NULL;
    cdof_bytes_t v;

    assert_int_equal(cdof_store_begin(s, false, &t), 0);
    for (uint32_t i = 0; i < n; i += stride) {
        cdof_store_be32(key, first + i);
        fill_value(val, first + i);
        assert_int_equal(cdof_store_get(t, db, key, 4, &v), 0);
        assert_int_equal(v.len, VAL_LEN);
        assert_memory_equal(v.data, val, VAL_LEN);
    }
    cdof_store_abort(&t);
}

/* A reader process that opened the store small and is told to look after it grew. */
static int child_follow_growth(const char *dir, int ready_fd, int go_fd, uint32_t expect)
{
    cdof_store_opts_t o = opts("hub", 1);
    cdof_store_t *s = NULL;
    cdof_store_txn_t *t = NULL;
    cdof_store_db_t db;
    cdof_bytes_t k, v;
    uint64_t n;

    o.read_only = true;
    if (cdof_store_open(dir, &o, &s, NULL, 0) != 0 || cdof_store_db(s, "big", &db) != 0)
        return 20;
    if (write(ready_fd, "r", 1) != 1 || read_byte(go_fd, 60000) != 1)
        return 21;
    if (cdof_store_begin(s, false, &t) != 0)
        return 22;
    if (cdof_store_count(t, db, &n) != 0 || n != expect)
        return 23;
    if (cdof_store_last(t, db, &k, &v) != 0 || k.len != 4 ||
        cdof_store_rd32(k.data) != expect - 1 || v.len != VAL_LEN)
        return 24;
    cdof_store_abort(&t);
    cdof_store_close(&s);
    return 0;
}

static void test_map_growth(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("hub", 1);
    cdof_store_map_info_t mi;
    cdof_store_t *s;
    cdof_store_db_t db;
    int ready[2], go[2];
    uint32_t written, n = 20 * 1024; /* 20 MiB of values */
    pid_t pid;

    o.map_size = 256 * KIB;
    s = open_ok(f->dir, &o);
    assert_int_equal(cdof_store_db(s, "big", &db), 0);
    assert_int_equal(cdof_store_map_info(s, &mi), 0);
    assert_true(mi.map_size == 256 * KIB);

    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(go[1]);
        _exit(child_follow_growth(f->dir, ready[1], go[0], n));
    }
    close(ready[1]);
    close(go[0]);
    assert_int_equal(read_byte(ready[0], 20000), 1);

    assert_int_equal(write_values(s, db, 0, n, 64, &written), 0);
    assert_int_equal(written, n);
    assert_int_equal(cdof_store_map_info(s, &mi), 0);
    assert_true(mi.map_size >= 20 * MIB);
    assert_true(mi.used <= mi.map_size);
    check_values(s, db, 0, n, 97);

    assert_int_equal(write(go[1], "g", 1), 1);
    assert_child_ok(pid, 30000);
    close(ready[0]);
    close(go[1]);

    /* Reopened with the small initial size, the store still holds it all. */
    cdof_store_close(&s);
    s = open_ok(f->dir, &o);
    assert_int_equal(cdof_store_db(s, "big", &db), 0);
    check_values(s, db, 0, n, 1009);
    cdof_store_close(&s);
}

static void test_map_max(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("hub", 1);
    cdof_store_map_info_t mi;
    cdof_store_txn_t *t = NULL;
    cdof_store_t *s;
    cdof_store_db_t db;
    uint32_t written, more;
    uint64_t n;
    int rc;

    o.map_size = 256 * KIB;
    o.max_map_size = 1 * MIB;
    s = open_ok(f->dir, &o);
    assert_int_equal(cdof_store_db(s, "big", &db), 0);
    rc = write_values(s, db, 0, 4096, 16, &written);
    assert_int_equal(rc, CDOF_EMAPFULL);
    assert_true(written > 256 && written < 1024);
    assert_int_equal(cdof_store_map_info(s, &mi), 0);
    assert_true(mi.map_size == 1 * MIB);

    /* At the limit a retry fails the same way and leaves the committed data alone. */
    rc = write_values(s, db, written, 64, 64, &more);
    assert_int_equal(rc, CDOF_EMAPFULL);

    /* A transaction poisoned by the full map fails a walk under way with its code, and any
     * cursor opened on it after. */
    cdof_store_cursor_t *c = NULL, *late = NULL;
    cdof_bytes_t k, v;
    uint8_t key[4], val[VAL_LEN];
    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    assert_int_equal(cdof_store_cursor_open(t, db, &c), 0);
    assert_int_equal(cdof_store_cursor_seek(c, NULL, 0, &k, &v), 1);
    rc = 0;
    for (uint32_t i = 0; rc == 0 && i < 4096; i++) {
        cdof_store_be32(key, written + i);
        fill_value(val, written + i);
        rc = cdof_store_put(t, db, key, 4, val, sizeof val);
    }
    assert_int_equal(rc, CDOF_EMAPFULL);
    assert_int_equal(cdof_store_cursor_next(c, &k, &v), CDOF_EMAPFULL);
    assert_int_equal(cdof_store_cursor_seek(c, NULL, 0, &k, &v), CDOF_EMAPFULL);
    assert_int_equal(cdof_store_cursor_open(t, db, &late), CDOF_EMAPFULL);
    assert_null(late);
    cdof_store_cursor_close(&c);
    cdof_store_abort(&t);
    assert_int_equal(cdof_store_begin(s, false, &t), 0);
    assert_int_equal(cdof_store_count(t, db, &n), 0);
    assert_int_equal(n, written);
    cdof_store_abort(&t);
    check_values(s, db, 0, written, 7);
    cdof_store_close(&s);

    /* A larger limit on reopen lets it grow again. */
    o.max_map_size = 4 * MIB;
    s = open_ok(f->dir, &o);
    assert_int_equal(cdof_store_db(s, "big", &db), 0);
    assert_int_equal(write_values(s, db, written, 1024, 16, &more), 0);
    check_values(s, db, 0, written + 1024, 13);
    cdof_store_close(&s);
}

static void test_big_txn_retry(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("hub", 1);
    cdof_store_t *s;
    cdof_store_db_t db;
    uint32_t written = 0;
    int rc = -1, attempts = 0;

    o.map_size = 256 * KIB;
    s = open_ok(f->dir, &o);
    assert_int_equal(cdof_store_db(s, "big", &db), 0);
    /* One 2 MiB transaction from a 256 KiB map: each failure doubles the map for the retry. */
    while (attempts < 10) {
        attempts++;
        rc = write_values(s, db, 0, 2048, 2048, &written);
        if (rc != CDOF_EMAPFULL)
            break;
    }
    assert_int_equal(rc, 0);
    assert_true(attempts > 1);
    assert_int_equal(written, 2048);
    check_values(s, db, 0, 2048, 1);
    cdof_store_close(&s);
}

static void test_backup(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("hub", 1), ro = opts("hub", 1);
    char live[128], copy[128], copy2[128], full[128], err[256], path[256];
    cdof_store_t *s, *c;
    cdof_store_txn_t *t = NULL;
    cdof_store_db_t da, db, ca, cb;
    uint8_t key[4];
    uint32_t written;
    struct stat st_live, st_copy;
    uint64_t n = 0;

    subdir(f, "live", live, sizeof live);
    subdir(f, "copy", copy, sizeof copy);
    subdir(f, "copy2", copy2, sizeof copy2);
    subdir(f, "full", full, sizeof full);
    snprintf(path, sizeof path, "%s/junk", full);
    fclose(fopen(path, "w"));

    s = open_ok(live, &o);
    assert_int_equal(cdof_store_db(s, "a", &da), 0);
    assert_int_equal(cdof_store_db(s, "b", &db), 0);
    assert_int_equal(write_values(s, da, 0, 3000, 100, &written), 0);
    assert_int_equal(write_values(s, db, 0, 50, 50, &written), 0);
    /* Free most of a: the compacting copy should leave the holes behind. */
    assert_int_equal(cdof_store_begin(s, true, &t), 0);
    for (uint32_t i = 0; i < 3000; i++) {
        if (i % 10 == 0)
            continue;
        cdof_store_be32(key, i);
        assert_int_equal(cdof_store_del(t, da, key, 4), 0);
    }
    assert_int_equal(cdof_store_commit(&t), 0);

    assert_int_equal(cdof_store_backup(s, full, err, sizeof err), -ENOTEMPTY);
    assert_non_null(strstr(err, "not empty"));
    assert_int_equal(cdof_store_backup(s, copy, err, sizeof err), 0);
    cdof_store_close(&s);

    snprintf(path, sizeof path, "%s/data.mdb", live);
    assert_int_equal(stat(path, &st_live), 0);
    snprintf(path, sizeof path, "%s/data.mdb", copy);
    assert_int_equal(stat(path, &st_copy), 0);
    assert_true(st_copy.st_size < st_live.st_size / 2);

    c = open_ok(copy, &o);
    assert_int_equal(cdof_store_db(c, "a", &ca), 0);
    assert_int_equal(cdof_store_db(c, "b", &cb), 0);
    assert_int_equal(cdof_store_begin(c, false, &t), 0);
    assert_int_equal(cdof_store_count(t, ca, &n), 0);
    assert_int_equal(n, 300);
    /* Every record of b is readable, not only counted. */
    cdof_store_cursor_t *cur = NULL;
    cdof_bytes_t k, v;
    int rc;
    n = 0;
    assert_int_equal(cdof_store_cursor_open(t, cb, &cur), 0);
    for (rc = cdof_store_cursor_seek(cur, NULL, 0, &k, &v); rc > 0;
         rc = cdof_store_cursor_next(cur, &k, &v))
        n++;
    cdof_store_cursor_close(&cur);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 50);
    cdof_store_abort(&t);
    check_values(c, ca, 0, 3000, 10);
    check_values(c, cb, 0, 50, 1);
    cdof_store_close(&c);

    /* A read-only open (another process's running store) can be backed up too. */
    ro.read_only = true;
    s = open_ok(live, &ro);
    assert_int_equal(cdof_store_backup(s, copy2, err, sizeof err), 0);
    cdof_store_close(&s);
    c = open_ok(copy2, &o);
    assert_int_equal(cdof_store_db(c, "a", &ca), 0);
    check_values(c, ca, 0, 3000, 10);
    cdof_store_close(&c);
}

#define CRASH_BATCH  16
#define CRASH_ROUNDS 4

/* Commits batches until killed: each writes CRASH_BATCH keys for batch b and counter = b + 1,
 * and reports every commit with a byte on fd. */
static int child_commit_forever(const char *dir, int fd)
{
    cdof_store_opts_t o = opts("hub", 1);
    cdof_store_t *s = NULL;
    cdof_store_txn_t *t = NULL;
    cdof_store_db_t db;
    cdof_bytes_t v;
    uint8_t key[8], val[64], ctr[8];
    uint64_t next = 0;

    o.no_sync = false;
    if (cdof_store_open(dir, &o, &s, NULL, 0) != 0 || cdof_store_db(s, "batches", &db) != 0)
        return 30;
    if (cdof_store_begin(s, false, &t) != 0)
        return 31;
    if (cdof_store_get(t, db, "counter", 7, &v) == 0 && v.len == 8)
        next = cdof_store_rd64(v.data);
    cdof_store_abort(&t);

    for (uint64_t b = next; b < next + 100000; b++) {
        if (cdof_store_begin(s, true, &t) != 0)
            return 32;
        for (uint32_t i = 0; i < CRASH_BATCH; i++) {
            cdof_store_be32(key, (uint32_t)b);
            cdof_store_be32(key + 4, i);
            memset(val, (int)(b + i), sizeof val);
            if (cdof_store_put(t, db, key, sizeof key, val, sizeof val) != 0)
                return 33;
        }
        cdof_store_be64(ctr, b + 1);
        if (cdof_store_put(t, db, "counter", 7, ctr, 8) != 0 || cdof_store_commit(&t) != 0)
            return 34;
        if (write(fd, "c", 1) != 1)
            return 35;
    }
    return 36;
}

typedef struct {
    uint64_t batches;
    uint32_t expect_b, expect_i;
    int bad;
} crash_check_t;

/* Checks one record of the batches database. */
static void crash_check(crash_check_t *c, const cdof_bytes_t *key, const cdof_bytes_t *val)
{
    const uint8_t *k = key->data, *v = val->data;
    uint32_t b, i;

    if (key->len == 7 && memcmp(k, "counter", 7) == 0)
        return;
    if (key->len != 8 || val->len != 64) {
        c->bad++;
        return;
    }
    b = cdof_store_rd32(k);
    i = cdof_store_rd32(k + 4);
    /* Keys come in order: batch by batch, each whole. */
    if (b != c->expect_b || i != c->expect_i || b >= c->batches || v[0] != (uint8_t)(b + i) ||
        v[63] != (uint8_t)(b + i))
        c->bad++;
    if (++c->expect_i == CRASH_BATCH) {
        c->expect_i = 0;
        c->expect_b++;
    }
}

static void test_crash_safety(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("hub", 1);
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    uint64_t acked_total = 0;

    print_message("crash test seed %u\n", seed);
    srand(seed);
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int p[2], status;
        int want = 1 + rand() % 40, got = 0;
        cdof_store_t *s;
        cdof_store_txn_t *t = NULL;
        cdof_store_db_t db;
        cdof_store_cursor_t *cur = NULL;
        cdof_bytes_t k, v;
        crash_check_t c;
        int rc;
        uint64_t n;
        pid_t pid;

        assert_int_equal(pipe(p), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            _exit(child_commit_forever(f->dir, p[1]));
        }
        close(p[1]);
        /* Kill it after `want` acknowledged commits: mid-way through a later one. */
        while (got < want) {
            int r = read_byte(p[0], 20000);
            if (r != 1)
                break;
            got++;
        }
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        close(p[0]);
        if (got < want)
            fail_msg("child stopped after %d commits (status %d)", got, status);
        assert_true(WIFSIGNALED(status));
        acked_total += (uint64_t)got;

        s = open_ok(f->dir, &o);
        assert_int_equal(cdof_store_db(s, "batches", &db), 0);
        assert_int_equal(cdof_store_begin(s, false, &t), 0);
        assert_int_equal(cdof_store_get(t, db, "counter", 7, &v), 0);
        assert_int_equal(v.len, 8);
        memset(&c, 0, sizeof c);
        c.batches = cdof_store_rd64(v.data);
        /* Every acknowledged commit is there; at most the one in flight besides. */
        assert_true(c.batches >= acked_total);
        assert_int_equal(cdof_store_cursor_open(t, db, &cur), 0);
        for (rc = cdof_store_cursor_seek(cur, NULL, 0, &k, &v); rc > 0;
             rc = cdof_store_cursor_next(cur, &k, &v))
            crash_check(&c, &k, &v);
        cdof_store_cursor_close(&cur);
        assert_int_equal(rc, 0);
        assert_int_equal(c.bad, 0);
        assert_int_equal(c.expect_b, c.batches);
        assert_int_equal(c.expect_i, 0);
        assert_int_equal(cdof_store_count(t, db, &n), 0);
        assert_int_equal(n, c.batches * CRASH_BATCH + 1);
        cdof_store_abort(&t);
        cdof_store_close(&s);
        acked_total = c.batches;
    }
}

typedef struct {
    cdof_store_t *s;
    cdof_store_db_t db;
    volatile int stop;
    int rounds;
    int err;
} reader_t;

/* Reads the first and last byte of every value below key 32: pages a growing map must keep
 * mapped under the reader. Returns 0 or the failure. */
static int touch_values(cdof_store_txn_t *t, cdof_store_db_t db, uint64_t *sum)
{
    cdof_store_cursor_t *c = NULL;
    cdof_bytes_t v;
    int rc = cdof_store_cursor_open(t, db, &c);

    for (rc = rc < 0 ? rc : cdof_store_cursor_range(c, NULL, 0, "\x00\x00\x00\x20", 4, NULL, &v);
         rc > 0; rc = cdof_store_cursor_next(c, NULL, &v)) {
        const uint8_t *b = v.data;
        *sum += b[0] + b[v.len - 1];
    }
    cdof_store_cursor_close(&c);
    return rc;
}

static void *reader_main(void *arg)
{
    reader_t *r = arg;
    cdof_store_txn_t *t = NULL;
    uint64_t n, sum = 0;
    int rc;

    for (int i = 0; i < 1000000 && !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE); i++) {
        if ((rc = cdof_store_begin(r->s, false, &t)) != 0 ||
            (rc = cdof_store_count(t, r->db, &n)) != 0 ||
            (rc = touch_values(t, r->db, &sum)) != 0) {
            r->err = rc;
            cdof_store_abort(&t);
            break;
        }
        cdof_store_abort(&t);
        __atomic_add_fetch(&r->rounds, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void test_growth_with_concurrent_readers(void **state)
{
    fixture_t *f = *state;
    cdof_store_opts_t o = opts("hub", 1);
    pthread_t th[2];
    reader_t r[2];
    cdof_store_t *s;
    cdof_store_db_t db;
    uint32_t written;
    int rc;

    o.map_size = 256 * KIB;
    s = open_ok(f->dir, &o);
    assert_int_equal(cdof_store_db(s, "big", &db), 0);
    for (int i = 0; i < 2; i++) {
        r[i] = (reader_t){.s = s, .db = db};
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &r[i]), 0);
    }
    /* The growth below must happen while the readers read: on a loaded machine a new thread
     * may not run for a while, so wait (10 s at most) until each has read once. */
    for (int waited = 0; waited < 10000; waited++) {
        if (__atomic_load_n(&r[0].rounds, __ATOMIC_ACQUIRE) > 0 &&
            __atomic_load_n(&r[1].rounds, __ATOMIC_ACQUIRE) > 0)
            break;
        poll(NULL, 0, 1);
    }
    rc = write_values(s, db, 0, 6 * 1024, 64, &written);
    /* Stop the readers before any assert can leave this frame under them. */
    for (int i = 0; i < 2; i++) {
        __atomic_store_n(&r[i].stop, 1, __ATOMIC_RELEASE);
        pthread_join(th[i], NULL);
    }
    assert_int_equal(rc, 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r[i].err, 0);
        assert_true(r[i].rounds > 0);
    }
    check_values(s, db, 0, 6 * 1024, 1);
    cdof_store_close(&s);
}

static size_t vm_size(void)
{
    char line[256];
    size_t kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmSize: %zu kB", &kb) == 1)
            break;
    }
    if (f)
        fclose(f);
    return kb * KIB;
}

/* With no address space left to map a larger file, growth is refused and writes end in
 * CDOF_EMAPFULL, the old map still in place: LMDB unmaps before it maps again, and a failed map
 * used to leave it with none (SIGSEGV at the next transaction). In a child, as the limit is for
 * the whole process. */
static void test_growth_refused_without_address_space(void **state)
{
    fixture_t *f = *state;
    char dir[128];
    subdir(f, "as", dir, sizeof dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cdof_store_opts_t o = opts("hub", 1);
        o.map_size = 1 * MIB;
        o.max_map_size = 4096 * MIB;
        cdof_store_t *s = NULL;
        cdof_store_db_t db;
        char err[256];
        if (cdof_store_open(dir, &o, &s, err, sizeof err) != 0 || cdof_store_db(s, "a", &db) != 0)
            _exit(3);
        size_t vm = vm_size();
        struct rlimit rl = {vm + 48 * MIB, vm + 48 * MIB};
        if (vm == 0 || setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(4);
        uint32_t written;
        int rc = 0;
        for (uint32_t i = 0; i < 4000 && rc == 0; i++)
            rc = write_values(s, db, i * 100, 100, 100, &written);
        /* The store still reads after refusing to grow. */
        cdof_store_txn_t *t = NULL;
        uint64_t n = 0;
        int rrc = cdof_store_begin(s, false, &t);
        if (rrc == 0)
            rrc = cdof_store_count(t, db, &n);
        cdof_store_abort(&t);
        cdof_store_close(&s);
        _exit(rc == CDOF_EMAPFULL && rrc == 0 && n > 0 ? 0 : 5);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("the child died of signal %d", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    /* TEST_FILTER=pattern runs only the matching tests. */
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    if (getenv("TEST_DEBUG"))
        cdof_log_init("test_store", CDOF_LOG_DEBUG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_be_codec),
        cmocka_unit_test_setup_teardown(test_put_get_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_order_and_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_prefix_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_move_keys_past_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_write_between_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_upgrade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_writer_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_while_writing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_txn_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
        cmocka_unit_test_setup_teardown(test_growth_with_concurrent_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_growth_refused_without_address_space, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
