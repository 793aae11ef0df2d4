#include "agent_intake.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/inotify.h>
#endif

#include "cdof_clock.h"
#include "cdof_csv.h"
#include "cdof_error.h"
#include "cdof_grow.h"
#include "cdof_log.h"
#include "cdof_period.h"
#include "cdof_wire.h"

#define TAKE_ATTEMPTS   8                  /* a full map grows between attempts */
#define TAKE_HASH_SLICE ((size_t)32 << 20) /* bytes fingerprinted per step of a take */
#define SCAN_MAX_FILES  10000
#define NOTIFY_DELAY_MS 50 /* lets a burst of renames settle into one scan */

/* Columns by name. A file is a milestone file when it has a "milestone" column. */
enum {
    COL_METRIC_ID,
    COL_AREA_CODE,
    COL_PERIOD,
    COL_NUMERATOR,
    COL_DENOMINATOR,
    COL_VALUE,
    COL_NOTE,
    COL_MILESTONE,
    COL_PARTNERSHIP,
    COL_DATE,
    COL_REF,
    COL_COUNT
};
static const char *const col_names[COL_COUNT] = {"metric_id",   "area_code", "period", "numerator",
                                                 "denominator", "value",     "note",   "milestone",
                                                 "partnership", "date",      "ref"};

typedef struct {
    int at[COL_COUNT]; /* field index of each column, -1 when absent */
    size_t nfields;
    bool milestones;
} header_t;

/* One field, trimmed of surrounding blanks, copied into buf of size len. Returns false when it
 * does not fit. A missing column reads as empty. */
static bool get_field(const cdof_csv_record_t *rec, int at, char *buf, size_t len)
{
    buf[0] = '\0';
    if (at < 0)
        return true;
    const char *s = rec->fields[at].data;
    size_t n = rec->fields[at].len;
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= len)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

/* Edit distance between a and b (case-insensitive), capped: enough to tell a typo. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev[65], cur[65];
    if (la > 64 || lb > 64)
        return 64;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] +
                         (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

/* The known column closest to an unknown name, or -1 when none is near enough to be a typo. */
static int closest_column(const char *col)
{
    int best = -1;
    size_t best_d = 3; /* at most two edits */
    for (int c = 0; c < COL_COUNT; c++) {
        size_t d = edit_distance(col, col_names[c]);
        if (d < best_d)
            best = c, best_d = d;
    }
    return best;
}

/* Reads a header row. Returns 0, or CDOF_EINVALID with a reason. Unknown columns are logged; one
 * that looks like a misspelt column the header lacks refuses the file, as every row would
 * otherwise be refused for the missing column. */
static int parse_header(const cdof_csv_record_t *rec, const char *name, header_t *h, char *err,
                        size_t errlen)
{
    for (int c = 0; c < COL_COUNT; c++)
        h->at[c] = -1;
    h->nfields = rec->nfields;
    for (size_t i = 0; i < rec->nfields; i++) {
        char col[64];
        if (!get_field(rec, (int)i, col, sizeof col)) {
            cdof_log_warn("%s: ignoring column %zu: its name is too long", name, i + 1);
            continue;
        }
        int found = -1;
        for (int c = 0; c < COL_COUNT; c++) {
            if (!strcasecmp(col, col_names[c]))
                found = c;
        }
        if (found < 0) {
            int near = closest_column(col);
            if (near >= 0)
                cdof_log_warn("%s: unknown column '%s' (did you mean '%s'?)", name, col,
                              col_names[near]);
            else
                cdof_log_warn("%s: ignoring unknown column '%s'", name, col);
            continue;
        }
        if (h->at[found] >= 0) {
            snprintf(err, errlen, "header: column '%s' appears twice", col_names[found]);
            return CDOF_EINVALID;
        }
        h->at[found] = (int)i;
    }
    for (size_t i = 0; i < rec->nfields; i++) {
        char col[64];
        bool known = false;
        if (!get_field(rec, (int)i, col, sizeof col))
            continue;
        for (int c = 0; c < COL_COUNT; c++)
            known = known || !strcasecmp(col, col_names[c]);
        int near = known ? -1 : closest_column(col);
        if (near >= 0 && h->at[near] < 0) {
            snprintf(err, errlen, "header: unknown column '%s' (did you mean '%s'?)", col,
                     col_names[near]);
            return CDOF_EINVALID;
        }
    }
    h->milestones = h->at[COL_MILESTONE] >= 0;
    static const int metric_req[] = {COL_METRIC_ID, COL_AREA_CODE, COL_PERIOD};
    static const int milestone_req[] = {COL_MILESTONE, COL_DATE};
    const int *req = h->milestones ? milestone_req : metric_req;
    size_t nreq = h->milestones ? 2 : 3;
    for (size_t i = 0; i < nreq; i++) {
        if (h->at[req[i]] < 0) {
            snprintf(err, errlen, "header: required column '%s' is missing", col_names[req[i]]);
            return CDOF_EINVALID;
        }
    }
    if (!h->milestones && h->at[COL_NUMERATOR] < 0 && h->at[COL_DENOMINATOR] < 0 &&
        h->at[COL_VALUE] < 0) {
        snprintf(err, errlen,
                 "header: needs a numerator, denominator or value column (expected "
                 "metric_id,area_code,period,numerator,denominator,value,note)");
        return CDOF_EINVALID;
    }
    return 0;
}

/* Parses a decimal number; empty means absent. */
static int parse_number(const char *col, const char *s, bool *has, double *out, char *err,
                        size_t errlen)
{
    *has = false;
    if (!*s)
        return 0;
    /* strtod alone would also take hex, "inf" and "nan". */
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p) && !strchr(".+-eE", *p)) {
            snprintf(err, errlen, "%s '%.40s' is not a number", col, s);
            return CDOF_EINVALID;
        }
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || end == s || errno == ERANGE || !isfinite(v)) {
        snprintf(err, errlen, "%s '%.40s' is not a number", col, s);
        return CDOF_EINVALID;
    }
    *has = true;
    *out = v;
    return 0;
}

static int too_long(const char *col, size_t max, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s is longer than %zu characters", col, max);
    return CDOF_EINVALID;
}

/* Builds the envelope for one metric row. Strings in *env point into st. */
typedef struct {
    char metric[CDOF_WIRE_MAX_ID + 1], area[CDOF_WIRE_MAX_ID + 1], period[32];
    char num[64], den[64], value[64];
    char note[CDOF_WIRE_MAX_TEXT + 1];
    char milestone[CDOF_WIRE_MAX_ID + 1], partnership[CDOF_WIRE_MAX_ID + 1], date[32];
    char ref[CDOF_WIRE_MAX_TEXT + 1];
    Cdof__V1__MetricUpdate mu;
    Cdof__V1__MilestoneEvent me;
    Cdof__V1__Period period_msg;
} row_t;

static int metric_row(const agent_take_ctx_t *ctx, const header_t *h, const cdof_csv_record_t *rec,
                      const char *name, row_t *r, Cdof__V1__Envelope *env, char *err, size_t errlen)
{
    if (!get_field(rec, h->at[COL_METRIC_ID], r->metric, sizeof r->metric))
        return too_long("metric_id", CDOF_WIRE_MAX_ID, err, errlen);
    if (!get_field(rec, h->at[COL_AREA_CODE], r->area, sizeof r->area))
        return too_long("area_code", CDOF_WIRE_MAX_ID, err, errlen);
    if (!get_field(rec, h->at[COL_PERIOD], r->period, sizeof r->period))
        return too_long("period", sizeof r->period - 1, err, errlen);
    if (!get_field(rec, h->at[COL_NUMERATOR], r->num, sizeof r->num))
        return too_long("numerator", sizeof r->num - 1, err, errlen);
    if (!get_field(rec, h->at[COL_DENOMINATOR], r->den, sizeof r->den))
        return too_long("denominator", sizeof r->den - 1, err, errlen);
    if (!get_field(rec, h->at[COL_VALUE], r->value, sizeof r->value))
        return too_long("value", sizeof r->value - 1, err, errlen);
    if (!get_field(rec, h->at[COL_NOTE], r->note, sizeof r->note))
        return too_long("note", CDOF_WIRE_MAX_TEXT, err, errlen);

    cdof_update_t u = {.metric_id = r->metric, .area_code = r->area};
    char why[256];
    int rc = cdof_period_parse(r->period, &u.period, why, sizeof why);
    if (rc < 0)
        snprintf(err, errlen, "%s%.240s", strncmp(why, "period", 6) ? "period " : "", why);
    if (rc == 0)
        rc = parse_number("numerator", r->num, &u.fig.has_numerator, &u.fig.numerator, err, errlen);
    if (rc == 0)
        rc = parse_number("denominator", r->den, &u.fig.has_denominator, &u.fig.denominator, err,
                          errlen);
    if (rc == 0)
        rc = parse_number("value", r->value, &u.fig.has_value, &u.fig.value, err, errlen);
    if (rc == 0)
        rc = cdof_validate_update(ctx->ref, ctx->scope, &u, err, errlen);
    if (rc == 0) /* the hub checks the same when the row arrives */
        rc = cdof_validate_period_arrival(&u.period, cdof_clock_today(), CDOF_PERIOD_TOLERANCE_DAYS,
                                          err, errlen);
    if (rc < 0)
        return CDOF_EINVALID;

    Cdof__V1__MetricUpdate mu = CDOF__V1__METRIC_UPDATE__INIT;
    Cdof__V1__Period pm = CDOF__V1__PERIOD__INIT;
    r->mu = mu;
    r->period_msg = pm;
    cdof_wire_update_to_msg(&u, &r->mu, &r->period_msg);
    r->mu.note = r->note;
    r->mu.source_file = (char *)name;
    r->mu.source_line = rec->line > UINT32_MAX ? UINT32_MAX : (uint32_t)rec->line;
    env->body_case = CDOF__V1__ENVELOPE__BODY_METRIC_UPDATE;
    env->metric_update = &r->mu;
    return 0;
}

static int milestone_row(const agent_take_ctx_t *ctx, const header_t *h,
                         const cdof_csv_record_t *rec, row_t *r, Cdof__V1__Envelope *env, char *err,
                         size_t errlen)
{
    if (!get_field(rec, h->at[COL_MILESTONE], r->milestone, sizeof r->milestone))
        return too_long("milestone", CDOF_WIRE_MAX_ID, err, errlen);
    if (!get_field(rec, h->at[COL_PARTNERSHIP], r->partnership, sizeof r->partnership))
        return too_long("partnership", CDOF_WIRE_MAX_ID, err, errlen);
    if (!get_field(rec, h->at[COL_DATE], r->date, sizeof r->date))
        return too_long("date", sizeof r->date - 1, err, errlen);
    if (!get_field(rec, h->at[COL_REF], r->ref, sizeof r->ref))
        return too_long("ref", CDOF_WIRE_MAX_TEXT, err, errlen);
    if (!get_field(rec, h->at[COL_NOTE], r->note, sizeof r->note))
        return too_long("note", CDOF_WIRE_MAX_TEXT, err, errlen);
    if (!r->partnership[0] && ctx->partnership)
        snprintf(r->partnership, sizeof r->partnership, "%s", ctx->partnership);
    int32_t date;
    if (cdof_date_parse(r->date, &date) < 0) {
        snprintf(err, errlen, "date '%s' is not a date (expected YYYY-MM-DD)", r->date);
        return CDOF_EINVALID;
    }
    if (cdof_validate_milestone(ctx->ref, r->milestone, r->partnership, date, cdof_clock_today(),
                                ctx->partnership, err, errlen) < 0)
        return CDOF_EINVALID;
    Cdof__V1__MilestoneEvent me = CDOF__V1__MILESTONE_EVENT__INIT;
    r->me = me;
    r->me.milestone_id = r->milestone;
    r->me.partnership = r->partnership;
    r->me.date = date;
    r->me.ref = r->ref;
    r->me.note = r->note;
    env->body_case = CDOF__V1__ENVELOPE__BODY_MILESTONE_EVENT;
    env->milestone_event = &r->me;
    return 0;
}

static void write_error(FILE *errs, unsigned long line, const char *reason, const char *raw,
                        size_t raw_len)
{
    if (!errs)
        return;
    fprintf(errs, "%lu,", line);
    cdof_csv_write_field(errs, reason, strlen(reason));
    putc(',', errs);
    cdof_csv_write_field(errs, raw, raw_len);
    putc('\n', errs);
}

static bool all_empty(const cdof_csv_record_t *rec)
{
    for (size_t i = 0; i < rec->nfields; i++) {
        for (size_t k = 0; k < rec->fields[i].len; k++) {
            if (rec->fields[i].data[k] != ' ' && rec->fields[i].data[k] != '\t')
                return false;
        }
    }
    return true;
}

/* A take in progress: the file's pass is resumable, so that the daemon's loop runs between
 * chunks. */
struct agent_take {
    const agent_take_ctx_t *ctx;
    FILE *f, *errs;
    char name[AGENT_FILE_NAME_MAX + 1];
    agent_fingerprint_t fp;
    bool fp_done, again, in_pass, header_done;
    agent_file_info_t previous;
    agent_outbox_batch_t *b;
    cdof_csv_t *csv;
    header_t h;
    row_t *r;
    uint64_t done_line; /* rows up to here were committed by an earlier chunk: counted only */
    unsigned chunk_rows;
    int attempts;
    int64_t now;
    agent_take_result_t res;
};

void agent_take_end(agent_take_t **tp)
{
    if (!tp || !*tp)
        return;
    agent_take_t *t = *tp;
    agent_outbox_batch_abort(&t->b);
    cdof_csv_destroy(&t->csv);
    free(t->r);
    free(t);
    *tp = NULL;
}

int agent_take_begin(const agent_take_ctx_t *ctx, FILE *f, const char *name, FILE *errs,
                     agent_take_t **out, char *err, size_t errlen)
{
    *out = NULL;
    agent_take_t *t = calloc(1, sizeof *t);
    int rc = -ENOMEM;
    if (!t || !(t->r = malloc(sizeof *t->r))) /* several KiB of bounded text: off the stack */
        goto fail;
    t->ctx = ctx;
    t->f = f;
    t->errs = errs;
    snprintf(t->name, sizeof t->name, "%s", name);
    agent_fingerprint_init(&t->fp);
    *out = t;
    return 0;
fail:
    snprintf(err, errlen, "%s: %s", name, cdof_strerror(rc));
    agent_take_end(&t);
    return rc;
}

/* Starts a pass over the file: a batch, the file from its start, the report and counts from
 * nothing. Rows up to the batch's done line (committed by earlier chunks, perhaps before a
 * restart) are read again for the counts and the report but not added. */
static int take_pass_start(agent_take_t *t)
{
    int rc;
    for (int i = 0; i < 2; i++) {
        rc = t->again ? agent_outbox_batch_begin_again(t->ctx->ob, &t->fp, &t->b)
                      : agent_outbox_batch_begin(t->ctx->ob, &t->fp, &t->b);
        if (rc != CDOF_EEXIST)
            break;
        /* Recorded since the lookup: this is a take again. */
        t->again = agent_outbox_file_lookup(t->ctx->ob, &t->fp, &t->previous) == 0;
    }
    if (rc < 0)
        return rc;
    t->done_line = agent_outbox_batch_done_line(t->b);
    memset(&t->res, 0, sizeof t->res);
    t->res.again = t->again;
    if (t->again)
        t->res.previous = t->previous;
    rewind(t->f);
    if (t->errs) {
        rewind(t->errs);
        if (ftruncate(fileno(t->errs), 0) < 0)
            return -errno;
        fputs("line,reason,row\n", t->errs);
    }
    cdof_csv_destroy(&t->csv);
    if (!(t->csv = cdof_csv_new(t->f, NULL)))
        return -ENOMEM;
    t->header_done = false;
    t->chunk_rows = 0;
    t->now = cdof_clock_now_ms();
    t->in_pass = true;
    return 0;
}

/* The header. Returns 1 to go on with the rows, 0 when the file is refused (res says why), or
 * -EIO. */
static int take_header(agent_take_t *t)
{
    agent_take_result_t *res = &t->res;
    cdof_csv_record_t rec;
    char reason[512];
    int rc = cdof_csv_next(t->csv, &rec, reason, sizeof reason);
    if (rc == -EIO)
        return rc;
    if (rc == 1 && parse_header(&rec, t->name, &t->h, reason, sizeof reason) == 0)
        return 1;
    res->file_rejected = true;
    res->bad = 1; /* the header, so that the file record says the file was refused */
    if (rc == 0)
        snprintf(res->reason, sizeof res->reason, "the file is empty: a header row is required");
    else if (rc == CDOF_EINVALID)
        snprintf(res->reason, sizeof res->reason, "header: %.200s", reason);
    else
        snprintf(res->reason, sizeof res->reason, "%.250s", reason);
    write_error(t->errs, rc == 0 ? 1 : rec.line, res->reason, rc == 0 ? "" : rec.raw,
                rc == 0 ? 0 : rec.raw_len);
    return 0;
}

/* Rows until the end of the file (returns 0) or until max_rows were added (commits them with
 * the progress and returns 1), or a code (CDOF_EMAPFULL: run the pass again). */
static int take_rows(agent_take_t *t, unsigned max_rows)
{
    const agent_take_ctx_t *ctx = t->ctx;
    agent_take_result_t *res = &t->res;
    cdof_csv_record_t rec;
    char reason[512];
    for (;;) {
        int rc = cdof_csv_next(t->csv, &rec, reason, sizeof reason);
        if (rc == 0 || rc == -EIO)
            return rc;
        if (rc == 1 && all_empty(&rec))
            continue;
        res->rows++;
        if (rc == 1 && rec.nfields != t->h.nfields) {
            snprintf(reason, sizeof reason, "the row has %zu fields, the header has %zu",
                     rec.nfields, t->h.nfields);
            rc = CDOF_EINVALID;
        }
        Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
        if (rc == 1) {
            rc = t->h.milestones
                     ? milestone_row(ctx, &t->h, &rec, t->r, &env, reason, sizeof reason)
                     : metric_row(ctx, &t->h, &rec, t->name, t->r, &env, reason, sizeof reason);
        }
        if (rc < 0) {
            res->bad++;
            cdof_log_debug("%s:%lu: %s", t->name, rec.line, reason);
            write_error(t->errs, rec.line, reason, rec.raw, rec.raw_len);
            continue;
        }
        if (rec.line <= t->done_line) { /* in the outbox since an earlier chunk */
            res->good++;
            continue;
        }
        rc = agent_outbox_batch_add(t->b, &env, t->now);
        if (rc == 1) { /* the latest sent for this row already says this */
            res->unchanged++;
            continue;
        }
        if (rc == -EMSGSIZE) {
            res->bad++;
            write_error(t->errs, rec.line, "the row is too large to send", rec.raw, rec.raw_len);
            continue;
        }
        if (rc < 0)
            return rc;
        res->good++;
        if (++t->chunk_rows < max_rows)
            continue;
        /* The report of the rows committed so far is durable before they are. */
        if (t->errs && res->bad > 0 && ctx->errors_ready &&
            (rc = ctx->errors_ready(ctx->errors_arg, t->name, t->errs)) < 0)
            return rc;
        if ((rc = agent_outbox_batch_checkpoint(t->b, rec.line)) < 0)
            return rc;
        t->done_line = rec.line;
        t->chunk_rows = 0;
        return 1;
    }
}

/* The end of the pass: the file record, or nothing for a re-drop of the latest state. */
static int take_finish(agent_take_t *t)
{
    const agent_take_ctx_t *ctx = t->ctx;
    agent_take_result_t *res = &t->res;
    int rc;
    if (t->again && res->good == 0) {
        /* Every row is already the latest sent: a re-drop of the latest state. */
        agent_outbox_batch_abort(&t->b);
        res->duplicate = true;
        return 0;
    }
    agent_file_info_t info = {
        .taken_ms = cdof_clock_now_ms(), .rows = res->rows, .good = res->good, .bad = res->bad};
    snprintf(info.name, sizeof info.name, "%s", t->name);
    if (t->errs && res->bad > 0 && ctx->errors_ready &&
        (rc = ctx->errors_ready(ctx->errors_arg, t->name, t->errs)) < 0)
        return rc;
    rc = agent_outbox_batch_commit(&t->b, &info);
    res->first_seq = info.first_seq;
    return rc;
}

int agent_take_step(agent_take_t *t, unsigned max_rows, agent_take_result_t *res, char *err,
                    size_t errlen)
{
    int rc = 0;
    if (!t->fp_done) {
        /* The file's fingerprint first, in slices: a big file is read whole for it. */
        rc = agent_fingerprint_step(t->f, &t->fp, max_rows ? TAKE_HASH_SLICE : SIZE_MAX);
        if (rc == 1) {
            *res = t->res;
            return 1;
        }
        if (rc < 0)
            goto end;
        t->fp_done = true;
        t->again = agent_outbox_file_lookup(t->ctx->ob, &t->fp, &t->previous) == 0;
    }
    while (t->attempts < TAKE_ATTEMPTS) {
        if (!t->in_pass && (rc = take_pass_start(t)) < 0)
            break;
        if (!t->header_done) {
            rc = take_header(t);
            if (rc < 0)
                break;
            t->header_done = true;
            if (rc == 0) { /* refused as a whole: recorded so, as any file */
                rc = take_finish(t);
                goto end;
            }
        }
        rc = take_rows(t, max_rows ? max_rows : UINT32_MAX);
        if (rc == 1) {
            *res = t->res;
            return 1;
        }
        if (rc == 0)
            rc = take_finish(t);
        if (rc != CDOF_EMAPFULL)
            goto end;
        /* The chunk since the last checkpoint is undone: its pass runs again on a grown map. */
        agent_outbox_batch_abort(&t->b);
        t->in_pass = false;
        t->attempts++;
        cdof_log_info("%s: the outbox map is full: growing it and taking the rest again", t->name);
    }
end:
    agent_outbox_batch_abort(&t->b);
    t->in_pass = false;
    *res = t->res;
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot write the outbox: %s", t->name, cdof_strerror(rc));
        return rc;
    }
    if (t->errs && fflush(t->errs) != 0) {
        snprintf(err, errlen, "%s: cannot write the errors file", t->name);
        return -EIO;
    }
    return 0;
}

int agent_take_stream(const agent_take_ctx_t *ctx, FILE *f, const char *name, FILE *errs,
                      agent_take_result_t *res, char *err, size_t errlen)
{
    agent_take_t *t = NULL;
    memset(res, 0, sizeof *res);
    int rc = agent_take_begin(ctx, f, name, errs, &t, err, errlen);
    while (rc == 0 && (rc = agent_take_step(t, AGENT_TAKE_CHUNK_ROWS, res, err, errlen)) == 1)
        rc = 0;
    agent_take_end(&t);
    return rc;
}

/* --- the daemon's watcher ------------------------------------------------------------------ */

/* A file seen in in/ and not yet taken: taken once stable (see agent_intake_opts_t). */
typedef struct {
    char *name;
    off_t size;
    struct timespec mtime;
    int64_t since_ms;  /* monotonic: when size and mtime took these values */
    bool closed;       /* closed after writing or renamed in, with this size and mtime */
    bool waiting_room; /* logged as waiting for room in the outbox */
    bool seen;         /* found by the current scan */
} seen_file_t;

/* The file being taken, between chunks. */
typedef struct {
    agent_take_t *t; /* NULL: none */
    FILE *f, *errs;
    bool queued;
    unsigned chunks, logged_good;
    char path[4096], tmp[4096], name[AGENT_FILE_NAME_MAX + 1];
} cur_t;

struct agent_intake {
    char errs_published[4096]; /* where the current file's report went, "" if not yet */
    cur_t cur;
    uv_timer_t step;
    uv_loop_t *loop;
    char *spool, *in_dir, *done_dir, *rejected_dir, *queue_dir;
    long rescan_ms, stable_ms;
    seen_file_t *seen;
    size_t n_seen, cap_seen;
    int64_t next_due_ms; /* monotonic: the earliest a waiting file becomes stable, 0 when none */
    int ino_fd;          /* inotify on in/ (close-after-write), -1 without */
    uv_poll_t ino_poll;
    bool polling_ino;
    agent_take_ctx_t take;
    void (*on_taken)(void *arg);
    void *arg;
    uv_timer_t rescan, notify;
    uv_fs_event_t watch_in, watch_queue;
    bool watching_in, watching_queue, started, closed;
};

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", a, b);
    return s;
}

static int ensure_dir(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        snprintf(err, errlen, "%s is not a directory", path);
        return -ENOTDIR;
    }
    int rc = -errno;
    snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    return rc;
}

static int publish_errors(void *arg, const char *name, FILE *errs);

void agent_intake_destroy(agent_intake_t **inp)
{
    if (!inp || !*inp)
        return;
    agent_intake_t *in = *inp;
    free(in->spool);
    free(in->in_dir);
    free(in->done_dir);
    free(in->rejected_dir);
    free(in->queue_dir);
    for (size_t i = 0; i < in->n_seen; i++)
        free(in->seen[i].name);
    free(in->seen);
    if (in->ino_fd >= 0)
        close(in->ino_fd);
    free(in);
    *inp = NULL;
}

int agent_intake_new(uv_loop_t *loop, const agent_intake_opts_t *opts, agent_intake_t **out,
                     char *err, size_t errlen)
{
    *out = NULL;
    agent_intake_t *in = calloc(1, sizeof *in);
    int rc = -ENOMEM;
    if (!in)
        goto fail;
    in->loop = loop;
    in->ino_fd = -1;
    in->rescan_ms = opts->rescan_ms;
    in->stable_ms = opts->stable_ms;
    in->take = opts->take;
    in->on_taken = opts->on_taken;
    in->take.errors_ready = publish_errors;
    in->take.errors_arg = in;
    in->arg = opts->arg;
    in->spool = strdup(opts->spool);
    in->in_dir = join(opts->spool, "in");
    in->done_dir = join(opts->spool, "done");
    in->rejected_dir = join(opts->spool, "rejected");
    if (opts->queue_dir)
        in->queue_dir = strdup(opts->queue_dir);
    if (!in->spool || !in->in_dir || !in->done_dir || !in->rejected_dir ||
        (opts->queue_dir && !in->queue_dir)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    const char *dirs[] = {in->spool, in->in_dir, in->done_dir, in->rejected_dir, in->queue_dir};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (dirs[i] && (rc = ensure_dir(dirs[i], err, errlen)) < 0)
            goto fail;
    }
    *out = in;
    return 0;
fail:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    agent_intake_destroy(&in);
    return rc;
}

static bool ignored_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] == '.' || (n >= 4 && !strcmp(name + n - 4, ".tmp"));
}

/* Moves src into dir under name, or name.1, name.2, ... when taken; never overwrites. The final
 * path goes to out. */
static int move_unique(const char *src, const char *dir, const char *name, const char *suffix,
                       char *out, size_t outlen)
{
    for (int i = 0; i < 1000; i++) {
        if (i == 0)
            snprintf(out, outlen, "%s/%s%s", dir, name, suffix);
        else
            snprintf(out, outlen, "%s/%s.%d%s", dir, name, i, suffix);
        if (link(src, out) == 0)
            return unlink(src) == 0 ? 0 : -errno;
        if (errno == EEXIST)
            continue;
        /* No hard links here: check, then rename (we are the only writer of these dirs). */
        if (access(out, F_OK) == 0)
            continue;
        return rename(src, out) == 0 ? 0 : -errno;
    }
    return -EEXIST;
}

/* The errors report of the file being taken, made durable under rejected/ before the outbox
 * commit. Called again on a retried commit: the same file is then only flushed again. */
static int publish_errors(void *arg, const char *name, FILE *errs)
{
    agent_intake_t *in = arg;
    if (fflush(errs) != 0 || fsync(fileno(errs)) != 0)
        return -errno;
    if (in->errs_published[0])
        return 0;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/.%s.errors.csv.tmp", in->rejected_dir, name);
    return move_unique(tmp, in->rejected_dir, name, ".errors.csv", in->errs_published,
                       sizeof in->errs_published);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *file_kind(mode_t mode)
{
    return S_ISLNK(mode)    ? "a symbolic link"
           : S_ISDIR(mode)  ? "a directory"
           : S_ISFIFO(mode) ? "a named pipe"
           : S_ISSOCK(mode) ? "a socket"
                            : "a device or other special file";
}

/* Moves path to rejected/ with NAME.errors.csv giving reason for the whole file (line 0). */
static void reject_with_reason(agent_intake_t *in, const char *path, const char *name,
                               const char *reason)
{
    char tmp[4096], out[4200], final[4096];
    snprintf(tmp, sizeof tmp, "%s/.%s.errors.csv.tmp", in->rejected_dir, name);
    FILE *errs = fopen(tmp, "w");
    bool report = false;
    if (errs) {
        fputs("line,reason,row\n", errs);
        write_error(errs, 0, reason, "", 0);
        report = fflush(errs) == 0 && fsync(fileno(errs)) == 0;
        fclose(errs);
    }
    if (!report || move_unique(tmp, in->rejected_dir, name, ".errors.csv", out, sizeof out) < 0)
        snprintf(out, sizeof out, "no report: cannot write %s", tmp);
    unlink(tmp);
    int rc = move_unique(path, in->rejected_dir, name, "", final, sizeof final);
    if (rc < 0)
        cdof_log_error("cannot move %s to %s: %s", path, in->rejected_dir, strerror(-rc));
    else
        cdof_log_warn("rejected %s: %s (see %s)", path, reason, out);
}

/* Something in in/ that is not a regular file (a symlink, whose target could be anything and
 * change under us; a directory; a pipe) is never read: it goes to rejected/ with a report. */
static void reject_nonfile(agent_intake_t *in, const char *path, const char *name, mode_t mode)
{
    char reason[256];
    snprintf(reason, sizeof reason,
             "%s, not a regular file: only regular files are taken (copy the file itself in)",
             file_kind(mode));
    reject_with_reason(in, path, name, reason);
}

static int64_t mono_ms(void)
{
    return (int64_t)(uv_hrtime() / 1000000u);
}

static seen_file_t *seen_find(agent_intake_t *in, const char *name, bool add)
{
    for (size_t i = 0; i < in->n_seen; i++) {
        if (strcmp(in->seen[i].name, name) == 0)
            return &in->seen[i];
    }
    if (!add)
        return NULL;
    seen_file_t *grown = cdof_grow(in->seen, in->n_seen, &in->cap_seen, 16, sizeof *grown);
    if (!grown)
        return NULL;
    in->seen = grown;
    seen_file_t *f = &in->seen[in->n_seen];
    memset(f, 0, sizeof *f);
    if (!(f->name = strdup(name)))
        return NULL;
    f->since_ms = mono_ms();
    in->n_seen++;
    return f;
}

static void seen_forget(agent_intake_t *in, const char *name)
{
    seen_file_t *f = seen_find(in, name, false);
    if (!f)
        return;
    free(f->name);
    *f = in->seen[--in->n_seen];
}

/* Records what stat says of a file in in/: a change of size or mtime restarts its wait. */
static seen_file_t *seen_update(agent_intake_t *in, const char *name, const struct stat *st)
{
    seen_file_t *f = seen_find(in, name, true);
    if (!f)
        return NULL;
    if (f->size != st->st_size || f->mtime.tv_sec != st->st_mtim.tv_sec ||
        f->mtime.tv_nsec != st->st_mtim.tv_nsec) {
        f->size = st->st_size;
        f->mtime = st->st_mtim;
        f->since_ms = mono_ms();
        f->closed = false;
    }
    f->seen = true;
    return f;
}

/* A file written in place (cp, a Windows share) is taken only once its writer is done: closed
 * after writing (or renamed in) with the size and mtime it has now, or those unchanged for
 * stable_ms, by our watch or by its mtime. Otherwise says when to look again. */
static bool stable_now(agent_intake_t *in, const seen_file_t *f)
{
    if (in->stable_ms <= 0 || f->closed)
        return true;
    int64_t now = mono_ms(), due = f->since_ms + in->stable_ms;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t age = ((int64_t)wall.tv_sec - (int64_t)f->mtime.tv_sec) * 1000 +
                  ((int64_t)wall.tv_nsec - (int64_t)f->mtime.tv_nsec) / 1000000;
    if (now >= due || age >= in->stable_ms)
        return true;
    if (age >= 0 && now + (in->stable_ms - age) < due)
        due = now + (in->stable_ms - age);
    if (in->next_due_ms == 0 || due < in->next_due_ms)
        in->next_due_ms = due;
    return false;
}

/* Outbox bytes a CSV file needs, about: a packed envelope and its LMDB node per row come to some
 * three times the row's text, and its "latest" record more. */
#define OUTBOX_BYTES_PER_CSV_BYTE 4

/* Whether the outbox has room for the file now. One that could never fit under the bound goes to
 * rejected/ with the reason; one that fits once the hub has drained the outbox waits in in/. */
static bool outbox_room(agent_intake_t *in, const char *path, const char *name,
                        const struct stat *st, seen_file_t *sf)
{
    uint64_t in_use, bound, need = (uint64_t)st->st_size * OUTBOX_BYTES_PER_CSV_BYTE;
    if (agent_outbox_space(in->take.ob, &in_use, &bound) < 0)
        return true; /* the take itself will say what is wrong */
    char reason[256];
    if (need > bound * 9 / 10) {
        snprintf(reason, sizeof reason,
                 "the file (%llu MiB) needs about %llu MiB of outbox, more than its bound of "
                 "%llu MiB (--outbox-max-mb): split it into smaller files",
                 (unsigned long long)(st->st_size >> 20), (unsigned long long)(need >> 20),
                 (unsigned long long)(bound >> 20));
        reject_with_reason(in, path, name, reason);
        return false;
    }
    if (in_use + need > bound * 9 / 10) {
        if (sf && !sf->waiting_room)
            cdof_log_warn("%s waits: it needs about %llu MiB of outbox, which holds %llu MiB of "
                          "its %llu MiB bound until the hub takes more",
                          path, (unsigned long long)(need >> 20),
                          (unsigned long long)(in_use >> 20), (unsigned long long)(bound >> 20));
        if (sf)
            sf->waiting_room = true;
        return false;
    }
    return true;
}

static void take_continue(agent_intake_t *in);
static void take_next(agent_intake_t *in);
static void on_notify(uv_timer_t *t);

/* Takes one file found in dir, in chunks (take_continue). Queue files are deleted once taken. */
static void take_file(agent_intake_t *in, const char *dir, const char *name, bool queued)
{
    char path[4096], tmp[4096], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (lstat(path, &st) < 0)
        return;
    if (!S_ISREG(st.st_mode)) {
        if (!queued)
            reject_nonfile(in, path, name, st.st_mode);
        return;
    }
    if (strlen(name) > AGENT_FILE_NAME_MAX) {
        cdof_log_warn("ignoring %s: the name is longer than %d bytes", path, AGENT_FILE_NAME_MAX);
        return;
    }
    if (!queued) {
        seen_file_t *sf = seen_update(in, name, &st);
        if (sf && !stable_now(in, sf)) {
            cdof_log_debug("%s: still being written (size or mtime changed in the last %ld ms)",
                           path, in->stable_ms);
            return;
        }
        if (!outbox_room(in, path, name, &st, sf))
            return;
    }
    /* O_NOFOLLOW: a file swapped for a symlink since the lstat is not followed. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        cdof_log_warn("cannot open %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.errors.csv.tmp", in->rejected_dir, name);
    FILE *errs = fopen(tmp, "w+");
    if (!errs) {
        cdof_log_error("cannot create %s: %s", tmp, strerror(errno));
        fclose(f);
        return;
    }
    in->errs_published[0] = '\0';
    agent_take_t *t = NULL;
    if (agent_take_begin(&in->take, f, name, errs, &t, err, sizeof err) < 0) {
        cdof_log_error("cannot take %s (will try again): %s", path, err);
        fclose(f);
        fclose(errs);
        unlink(tmp);
        return;
    }
    cur_t *c = &in->cur;
    c->t = t;
    c->f = f;
    c->errs = errs;
    c->queued = queued;
    c->chunks = 0;
    c->logged_good = 0;
    snprintf(c->path, sizeof c->path, "%s", path);
    snprintf(c->tmp, sizeof c->tmp, "%s", tmp);
    snprintf(c->name, sizeof c->name, "%s", name);
    take_continue(in);
}

static void on_step(uv_timer_t *h)
{
    agent_intake_t *in = h->data;
    if (in->cur.t && !in->closed)
        take_continue(in);
}

/* Drops the take in progress (the agent stops): its committed chunks and progress stay, and
 * the file, still in in/, is taken on from there at the next start. */
static void take_drop(agent_intake_t *in)
{
    cur_t *c = &in->cur;
    if (!c->t)
        return;
    agent_take_end(&c->t);
    fclose(c->f);
    fclose(c->errs);
    if (!in->errs_published[0])
        unlink(c->tmp);
    cdof_log_info("stopped taking %s after %u chunk%s: the rest is taken at the next start",
                  c->path, c->chunks, c->chunks == 1 ? "" : "s");
}

/* One chunk of the take in progress; between chunks the loop sends, heartbeats and stops. */
static void take_continue(agent_intake_t *in)
{
    cur_t *c = &in->cur;
    char final[4096], err[512];
    const char *path = c->path, *tmp = c->tmp, *name = c->name;
    bool queued = c->queued;
    FILE *errs = c->errs;
    agent_take_result_t res;
    int rc = agent_take_step(c->t, AGENT_TAKE_CHUNK_ROWS, &res, err, sizeof err);
    if (rc == 1) {
        c->chunks++;
        if (res.good > c->logged_good)
            cdof_log_info("taking %s: %u rows in the outbox so far", path, res.good);
        c->logged_good = res.good;
        if (in->on_taken)
            in->on_taken(in->arg);
        /* CDOF_TEST_CHUNK_PAUSE_MS (tests only) holds the take between chunks, so that a test
         * can stop or kill the agent in the middle of one on a machine of any speed. */
        const char *pause = getenv("CDOF_TEST_CHUNK_PAUSE_MS");
        uv_timer_start(&in->step, on_step, pause ? strtoull(pause, NULL, 10) : 0, 0);
        return;
    }
    agent_take_end(&c->t);
    fclose(c->f);
    if (rc < 0) {
        cdof_log_error("cannot take %s (will try again): %s", path, err);
        fclose(errs);
        unlink(in->errs_published[0] ? in->errs_published : tmp);
        take_next(in);
        return;
    }
    bool errors = !res.duplicate && (res.bad > 0 || res.file_rejected);
    bool published = in->errs_published[0] != '\0';
    bool keep_errs = errors && !published && fsync(fileno(errs)) == 0;
    fclose(errs);
    char errs_path[4096] = "";
    if (published)
        snprintf(errs_path, sizeof errs_path, "%s", in->errs_published);
    int mrc = keep_errs ? move_unique(tmp, in->rejected_dir, name, ".errors.csv", errs_path,
                                      sizeof errs_path)
                        : 0;
    if (mrc < 0) {
        cdof_log_error("cannot write %s/%s.errors.csv: %s", in->rejected_dir, name, strerror(-mrc));
        errs_path[0] = '\0';
    }
    unlink(tmp);

    char when[32];
    cdof_clock_format(res.previous.taken_ms, when, sizeof when);
    if (res.duplicate) {
        cdof_log_info("skipped %s: same content as %s, taken %s, and every row is the latest sent",
                      name, res.previous.name, when);
    } else if (res.again) {
        cdof_log_warn("took %s: same content as %s, taken %s, but %u row%s differ from the latest "
                      "sent (a correction reverted?): sending %s again, %u unchanged left out",
                      name, res.previous.name, when, res.good, res.good == 1 ? "" : "s",
                      res.good == 1 ? "it" : "them", res.unchanged);
    } else if (res.file_rejected) {
        cdof_log_warn("rejected %s: %s (see %s)", name, res.reason, errs_path);
    } else if (res.bad) {
        cdof_log_info("took %s: %u row%s, %u to outbox, %u rejected (see %s)", name, res.rows,
                      res.rows == 1 ? "" : "s", res.good, res.bad, errs_path);
    } else {
        cdof_log_info("took %s: %u row%s, %u to outbox", name, res.rows, res.rows == 1 ? "" : "s",
                      res.good);
    }

    /* A duplicate follows its original: refused content goes back to rejected/. */
    bool to_rejected = res.duplicate ? res.previous.good == 0 && res.previous.bad > 0
                                     : res.good == 0 && res.bad > 0;
    if (queued && !to_rejected) {
        if (unlink(path) < 0)
            cdof_log_error("cannot remove %s: %s", path, strerror(errno));
    } else {
        const char *dest = to_rejected ? in->rejected_dir : in->done_dir;
        mrc = move_unique(path, dest, name, "", final, sizeof final);
        if (mrc < 0)
            cdof_log_error("cannot move %s to %s: %s", path, dest, strerror(-mrc));
    }
    if (!queued)
        seen_forget(in, name);
    if (res.good && in->on_taken)
        in->on_taken(in->arg);
    take_next(in);
}

/* After a take that ran over several turns of the loop, the files after it. */
static void take_next(agent_intake_t *in)
{
    if (in->cur.chunks && !in->closed)
        uv_timer_start(&in->notify, on_notify, 0, 0);
}

static void scan_dir(agent_intake_t *in, const char *dir, bool queued)
{
    DIR *d = opendir(dir);
    if (!d) {
        cdof_log_error("cannot read %s: %s", dir, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < SCAN_MAX_FILES) {
        if (ignored_name(e->d_name))
            continue;
        char **nn = cdof_grow(names, n, &cap, 16, sizeof *nn);
        if (!nn)
            break;
        names = nn;
        if ((names[n] = strdup(e->d_name)) == NULL)
            break;
        n++;
    }
    closedir(d);
    /* Name order: drops named by date are taken in date order. */
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        if (!in->closed && !in->cur.t)
            take_file(in, dir, names[i], queued);
        free(names[i]);
    }
    free(names);
}

void agent_intake_scan(agent_intake_t *in)
{
    if (in->cur.t) /* a big file is being taken: the rest waits for it */
        return;
    in->next_due_ms = 0;
    for (size_t i = 0; i < in->n_seen; i++)
        in->seen[i].seen = false;
    scan_dir(in, in->in_dir, false);
    if (in->queue_dir)
        scan_dir(in, in->queue_dir, true);
    /* Files gone from in/ are forgotten. */
    for (size_t i = 0; i < in->n_seen;) {
        if (in->seen[i].seen) {
            i++;
            continue;
        }
        free(in->seen[i].name);
        in->seen[i] = in->seen[--in->n_seen];
    }
    /* A file waiting to be stable is looked at again when it may be, not a rescan later. */
    if (in->next_due_ms && in->started && !in->closed) {
        int64_t wait = in->next_due_ms - mono_ms();
        uv_timer_start(&in->notify, on_notify,
                       (uint64_t)(wait < NOTIFY_DELAY_MS ? NOTIFY_DELAY_MS : wait), 0);
    }
}

static void on_rescan(uv_timer_t *t)
{
    agent_intake_scan(t->data);
}

static void on_notify(uv_timer_t *t)
{
    agent_intake_scan(t->data);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    agent_intake_t *in = h->data;
    if (status < 0) {
        cdof_log_warn("watching %s: %s (rescans continue)", in->in_dir, uv_strerror(status));
        return;
    }
    if (filename && ignored_name(filename))
        return;
    if (!uv_is_active((uv_handle_t *)&in->notify))
        uv_timer_start(&in->notify, on_notify, NOTIFY_DELAY_MS, 0);
}

#ifdef __linux__
/* inotify on in/: a file closed after writing, or renamed in, is complete as it stands, so it
 * need not wait out stable_ms. Other events only prompt a scan. */
static void on_inotify(uv_poll_t *h, int status, int events)
{
    agent_intake_t *in = h->data;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    (void)events;
    if (status < 0)
        return;
    for (;;) {
        ssize_t n = read(in->ino_fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (!ev->len || ignored_name(ev->name))
                continue;
            if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
                char path[4096];
                struct stat st;
                snprintf(path, sizeof path, "%s/%s", in->in_dir, ev->name);
                seen_file_t *f;
                if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
                    (f = seen_update(in, ev->name, &st)) != NULL)
                    f->closed = true;
            }
        }
    }
    if (!uv_is_active((uv_handle_t *)&in->notify) ||
        (in->next_due_ms && in->next_due_ms - mono_ms() > NOTIFY_DELAY_MS))
        uv_timer_start(&in->notify, on_notify, NOTIFY_DELAY_MS, 0);
}

static bool watch_in_dir(agent_intake_t *in)
{
    in->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (in->ino_fd < 0)
        return false;
    if (inotify_add_watch(in->ino_fd, in->in_dir,
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY | IN_ATTRIB) < 0 ||
        uv_poll_init(in->loop, &in->ino_poll, in->ino_fd) < 0) {
        cdof_log_warn("cannot watch %s: %s (rescans and stable_ms continue)", in->in_dir,
                      strerror(errno));
        close(in->ino_fd);
        in->ino_fd = -1;
        return false;
    }
    in->ino_poll.data = in;
    uv_poll_start(&in->ino_poll, UV_READABLE, on_inotify);
    return true;
}
#endif

static bool watch(agent_intake_t *in, uv_fs_event_t *h, const char *dir)
{
    int rc = uv_fs_event_init(in->loop, h);
    if (rc < 0) {
        cdof_log_warn("cannot watch %s: %s (rescans continue)", dir, uv_strerror(rc));
        return false;
    }
    h->data = in;
    rc = uv_fs_event_start(h, on_fs_event, dir, 0);
    if (rc < 0)
        cdof_log_warn("cannot watch %s: %s (rescans continue)", dir, uv_strerror(rc));
    return true; /* initialised: must be closed */
}

int agent_intake_start(agent_intake_t *in)
{
    uv_timer_init(in->loop, &in->rescan);
    uv_timer_init(in->loop, &in->notify);
    uv_timer_init(in->loop, &in->step);
    in->step.data = in;
    in->rescan.data = in;
    in->notify.data = in;
    in->started = true;
#ifdef __linux__
    in->polling_ino = watch_in_dir(in);
#endif
    if (!in->polling_ino)
        in->watching_in = watch(in, &in->watch_in, in->in_dir);
    if (in->queue_dir)
        in->watching_queue = watch(in, &in->watch_queue, in->queue_dir);
    agent_intake_scan(in);
    return uv_timer_start(&in->rescan, on_rescan, (uint64_t)in->rescan_ms, (uint64_t)in->rescan_ms);
}

void agent_intake_set_rescan(agent_intake_t *in, long rescan_ms)
{
    if (rescan_ms == in->rescan_ms || !in->started || in->closed)
        return;
    in->rescan_ms = rescan_ms;
    uv_timer_start(&in->rescan, on_rescan, (uint64_t)rescan_ms, (uint64_t)rescan_ms);
}

void agent_intake_close(agent_intake_t *in)
{
    if (!in || in->closed || !in->started) {
        if (in)
            in->closed = true;
        return;
    }
    in->closed = true;
    take_drop(in);
    uv_close((uv_handle_t *)&in->step, NULL);
    uv_close((uv_handle_t *)&in->rescan, NULL);
    uv_close((uv_handle_t *)&in->notify, NULL);
    if (in->watching_in)
        uv_close((uv_handle_t *)&in->watch_in, NULL);
    if (in->polling_ino)
        uv_close((uv_handle_t *)&in->ino_poll, NULL);
    if (in->watching_queue)
        uv_close((uv_handle_t *)&in->watch_queue, NULL);
}
