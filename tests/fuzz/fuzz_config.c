/* libFuzzer target for the configuration parsers: the INI files every program reads
 * (--config FILE, through cdof_config_load_file) and the hub's key registry (--keys FILE). Any
 * input either loads or fails with a reason naming the file; a loaded registry finds each of its
 * keys and every id and area respects its bound. Crashes and failed checks abort. */
#define _GNU_SOURCE /* memfd_create */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cdof_config.h"
#include "cdof_partnerships.h"
#include "cdof_ref.h"
#include "hub_keys.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every kind of option the programs use. */
typedef struct {
    char *name, *path;
    long count;
    bool flag;
    cdof_strlist_t list;
} fuzz_cfg_t;

static const cdof_opt_t OPTS[] = {
    {"name", CDOF_OPT_STRING, "x", 0, 0, offsetof(fuzz_cfg_t, name), "S", "a string"},
    {"path", CDOF_OPT_STRING, NULL, 0, 0, offsetof(fuzz_cfg_t, path), "P", "another"},
    {"count", CDOF_OPT_INT, "5", 1, 10000, offsetof(fuzz_cfg_t, count), "N", "an integer"},
    {"flag", CDOF_OPT_BOOL, "false", 0, 0, offsetof(fuzz_cfg_t, flag), NULL, "a flag"},
    {"list", CDOF_OPT_LIST, NULL, 0, 0, offsetof(fuzz_cfg_t, list), "A,...", "a list"},
};
static const cdof_config_spec_t SPEC = {"fuzz", "fuzz", "fuzz", OPTS, sizeof OPTS / sizeof OPTS[0]};

static cdof_ref_t *ref;
static int fd = -1;
/* A configured partnership (the hub's --partnerships) the registry's lines may name. */
static const cdof_area_t *blackpool_members[2];
static cdof_partnership_t blackpool;
static char path[64];

static void setup(void)
{
    char err[512];
    const char *dir = getenv("CDOF_REFDIR") ? getenv("CDOF_REFDIR") : FUZZ_REFDIR;
    if (!(ref = cdof_ref_load(dir, err, sizeof err))) {
        fprintf(stderr, "fuzz_config: reference data: %s\n", err);
        abort();
    }
    blackpool_members[0] = cdof_ref_area(ref, "E06000009");
    blackpool_members[1] = cdof_ref_area(ref, "E06000008");
    CHECK(blackpool_members[0] && blackpool_members[1]);
    blackpool = (cdof_partnership_t){
        .area = {.code = "blackpool", .name = "blackpool", .kind = CDOF_AREA_PARTNERSHIP},
        .members = blackpool_members,
        .nmembers = 2};
    fd = memfd_create("fuzz_config", 0);
    CHECK(fd >= 0);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
}

static void ini(const uint8_t *data, size_t size)
{
    CHECK(ftruncate(fd, 0) == 0);
    CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
    fuzz_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    char err[512] = "";
    int rc = cdof_config_load_file(&SPEC, &cfg, path, err, sizeof err);
    CHECK(rc == 0 || (rc < 0 && err[0]));
    if (rc == 0) {
        CHECK(cfg.count == 0 || (cfg.count >= 1 && cfg.count <= 10000));
        for (size_t i = 0; i < cfg.list.count; i++)
            CHECK(cfg.list.items[i]);
    }
    cdof_config_free(&SPEC, &cfg);
}

static void registry(const uint8_t *data, size_t size)
{
    hub_keys_t *keys = NULL;
    char err[512] = "";
    int rc = hub_keys_parse("fuzz.csv", (const char *)data, size, ref, &blackpool, 1, &keys, err,
                            sizeof err);
    if (rc < 0) {
        CHECK(!keys && err[0] && strncmp(err, "fuzz.csv", 8) == 0);
        return;
    }
    CHECK(keys);
    /* Every line's key is found again, and leads to a party within bounds. */
    for (size_t off = 0; off + 40 <= size; off++) {
        char key[41];
        memcpy(key, data + off, 40);
        key[40] = '\0';
        const hub_party_t *p = hub_keys_find(keys, key);
        if (!p)
            continue;
        CHECK(strcmp(p->public_key, key) == 0);
        CHECK(p->id[0] && strlen(p->id) <= 64 && strlen(p->partnership) <= 64);
        CHECK(p->role != HUB_ROLE_PARTNERSHIP || p->scope.nareas >= 1);
        CHECK(p->scope.nareas <= HUB_KEYS_MAX_AREAS);
        for (size_t i = 0; i < p->scope.nareas; i++)
            CHECK(cdof_ref_area(ref, p->scope.areas[i]));
        /* The configured partnership's agents write its areas and no others. */
        bool bp = p->role == HUB_ROLE_PARTNERSHIP && !strcmp(p->partnership, "blackpool");
        for (size_t i = 0; bp && i < p->scope.nareas; i++)
            CHECK(!strcmp(p->scope.areas[i], "E06000009") ||
                  !strcmp(p->scope.areas[i], "E06000008"));
        CHECK(!hub_role_may_use(p->role, "ingest") || !hub_role_may_use(p->role, "query"));
    }
    hub_keys_destroy(&keys);
    CHECK(!keys);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ref)
        setup();
    ini(data, size);
    registry(data, size);
    return 0;
}
