/* The benchmarks' data: ten years (2015-01 to 2024-12) of every catalogue metric at its own
 * frequency for every upper-tier area, split between N agents, in the order real partnerships
 * send it: period by period. A stream longer than one pass over the ten years goes round again
 * as revisions (NDTMS-style resubmissions) with slightly different values, so that every update
 * is a real write. Deterministic: the same arguments give the same stream. */
#ifndef BENCH_DATA_H
#define BENCH_DATA_H

#include <stdint.h>

#include "cdof_ref.h"
#include "cdof_validate.h"

#define BENCH_YEAR_FIRST 2015
#define BENCH_MONTHS     120

typedef struct bench_gen bench_gen_t;

/* The share of total updates agent (0-based, of nagents) sends: total split as evenly as possible.
 */
uint64_t bench_quota(uint64_t total, unsigned agent, unsigned nagents);

/* Stream of agent's updates (areas whose index modulo nagents is agent), at most quota long.
 * ref is borrowed and must outlive the generator. Returns NULL on bad arguments or no memory. */
bench_gen_t *bench_gen_new(const cdof_ref_t *ref, unsigned agent, unsigned nagents, uint64_t quota);
void bench_gen_destroy(bench_gen_t **g);

/* Fills *u with the next update (strings owned by ref). Returns 1, or 0 when the stream is over. */
int bench_gen_next(bench_gen_t *g, cdof_update_t *u);

/* Updates in one pass over the ten years for all areas: the distinct points the store ends with. */
uint64_t bench_points_per_pass(const cdof_ref_t *ref);

/* "bench-007": the agent id of agent k. */
void bench_agent_id(unsigned k, char *buf, size_t len);

/* Monotonic clock in seconds. */
double bench_now(void);

#endif
