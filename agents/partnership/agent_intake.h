/* Intake: CSV files from SPOOL/in (and milestone files queued in DATA/queue by `cdof-agent
 * milestone` while the daemon runs) become outbox entries.
 *
 * A file is taken in outbox transactions of AGENT_TAKE_CHUNK_ROWS rows at most, each recording
 * how far it got, and the last with its file record: a take cut short (a crash, a stop) resumes
 * where it was, never adding a row twice. A file whose fingerprint was already recorded sends only
 * the rows whose value differs from the latest sent for the same row (a correction reverted), and
 * is skipped when there are none. Bad rows go to SPOOL/rejected/NAME.errors.csv (line,reason,row).
 */
#ifndef AGENT_INTAKE_H
#define AGENT_INTAKE_H

#include <stdbool.h>
#include <stdio.h>

#include <uv.h>

#include "agent_outbox.h"
#include "cdof_ref.h"
#include "cdof_validate.h"

/* What taking one input needs; everything borrowed. */
typedef struct {
    const cdof_ref_t *ref;
    const cdof_scope_t *scope;
    const char *partnership; /* the agent's own, for milestones */
    agent_outbox_t *ob;
    /* Called with the errors stream just before the outbox commit when rows were refused, so
     * that the report is durable before the rows it explains are committed (a crash between
     * the two would otherwise leave a taken file with no report). Returns 0 or a negative
     * code, which abandons the take. May be NULL. */
    int (*errors_ready)(void *arg, const char *name, FILE *errs);
    void *errors_arg;
} agent_take_ctx_t;

typedef struct {
    unsigned rows, good, bad;   /* data rows (blank ones aside), to the outbox, rejected */
    bool duplicate;             /* the latest state again: nothing written */
    bool again;                 /* same content as a file taken before (previous) ... */
    unsigned unchanged;         /* ... whose rows equal to the latest sent were left out */
    agent_file_info_t previous; /* the file taken before with this content */
    uint64_t first_seq;         /* sequence of the first entry written, 0 when none */
    bool file_rejected;         /* the file as a whole was refused (header, empty) */
    char reason[256];           /* why, for file_rejected */
} agent_take_result_t;

/* Takes one input stream named name (used as source_file). Bad rows (and a file-level reason, on
 * line 1) are written as CSV to errs when errs is not NULL, with a header line. Returns 0 with
 * *res filled in, or a negative code (store or read failure: nothing was written to the outbox,
 * try again later) with a reason in err. */
int agent_take_stream(const agent_take_ctx_t *ctx, FILE *f, const char *name, FILE *errs,
                      agent_take_result_t *res, char *err, size_t errlen);

/* Rows a take commits at most in one outbox transaction. */
#define AGENT_TAKE_CHUNK_ROWS 20000

/* The same in steps, for a caller that must do other work while a big file is taken: begin,
 * then step until it returns 0 (done: *res final) or a negative code (nothing more was written;
 * what earlier steps committed stays, and a take of the same file begun later resumes after
 * it). A step adds max_rows rows at most and commits them with the file's progress, returning 1
 * with *res so far. f and errs are borrowed until agent_take_end. */
typedef struct agent_take agent_take_t;
int agent_take_begin(const agent_take_ctx_t *ctx, FILE *f, const char *name, FILE *errs,
                     agent_take_t **out, char *err, size_t errlen);
int agent_take_step(agent_take_t *t, unsigned max_rows, agent_take_result_t *res, char *err,
                    size_t errlen);
void agent_take_end(agent_take_t **t);

typedef struct agent_intake agent_intake_t;

typedef struct {
    const char *spool;     /* copied */
    const char *queue_dir; /* copied; may be NULL */
    long rescan_ms;
    /* A file in SPOOL/in is taken once stable: closed after writing or renamed in (where the
     * system tells: inotify on Linux), or its size and mtime unchanged for stable_ms. 0 takes
     * every file as soon as it is seen. */
    long stable_ms;
    agent_take_ctx_t take;       /* borrowed for the intake's life */
    void (*on_taken)(void *arg); /* called after entries were added to the outbox */
    void *arg;
} agent_intake_opts_t;

/* Creates SPOOL/in, done and rejected (and the queue directory) when missing. *out is owned by
 * the caller: agent_intake_close, run the loop until the handles are closed, then
 * agent_intake_destroy. */
int agent_intake_new(uv_loop_t *loop, const agent_intake_opts_t *opts, agent_intake_t **out,
                     char *err, size_t errlen);

/* Scans once now and then every rescan_ms and whenever in/ changes. */
int agent_intake_start(agent_intake_t *in);
void agent_intake_set_rescan(agent_intake_t *in, long rescan_ms);

/* Scans the directories once, taking every file found. */
void agent_intake_scan(agent_intake_t *in);

/* Stops watching and closes the handles (the loop finishes closing them). */
void agent_intake_close(agent_intake_t *in);
void agent_intake_destroy(agent_intake_t **in);

#endif
