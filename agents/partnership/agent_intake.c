#include "agent_intake.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdof_clock.h"
#include "cdof_csv.h"
#include "cdof_error.h"
#include "cdof_grow.h"
#include "cdof_log.h"
#include "cdof_period.h"
#include "cdof_wire.h"

#define TAKE_ATTEMPTS   8 /* a full map grows between attempts */
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

/* Reads a header row. Returns 0, or CDOF_EINVALID with a reason. Unknown columns are logged. */
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
            cdof_log_warn("%s: ignoring unknown column '%s'", name, col);
            continue;
        }
        if (h->at[found] >= 0) {
            snprintf(err, errlen, "header: column '%s' appears twice", col_names[found]);
            return CDOF_EINVALID;
        }
        h->at[found] = (int)i;
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
        rc = parse_number("numerator", r->num, &u.has_numerator, &u.numerator, err, errlen);
    if (rc == 0)
        rc = parse_number("denominator", r->den, &u.has_denominator, &u.denominator, err, errlen);
    if (rc == 0)
        rc = parse_number("value", r->value, &u.has_value, &u.value, err, errlen);
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

/* One pass over the file inside batch b. Returns 0, or a store code (CDOF_EMAPFULL: run again). */
static int take_rows(const agent_take_ctx_t *ctx, agent_outbox_batch_t *b, FILE *f,
                     const char *name, FILE *errs, agent_take_result_t *res, row_t *r)
{
    cdof_csv_t *csv = cdof_csv_new(f, NULL);
    if (!csv)
        return -ENOMEM;
    if (errs)
        fputs("line,reason,row\n", errs);
    cdof_csv_record_t rec;
    char reason[512];
    header_t h;
    int rc = cdof_csv_next(csv, &rec, reason, sizeof reason);
    if (rc == -EIO)
        goto done;
    if (rc != 1 || parse_header(&rec, name, &h, reason, sizeof reason) < 0) {
        res->file_rejected = true;
        res->bad = 1; /* the header, so that the file record says the file was refused */
        if (rc == 0)
            snprintf(res->reason, sizeof res->reason,
                     "the file is empty: a header row is required");
        else if (rc == CDOF_EINVALID)
            snprintf(res->reason, sizeof res->reason, "header: %.200s", reason);
        else
            snprintf(res->reason, sizeof res->reason, "%.250s", reason);
        write_error(errs, rc == 0 ? 1 : rec.line, res->reason, rc == 0 ? "" : rec.raw,
                    rc == 0 ? 0 : rec.raw_len);
        rc = 0;
        goto done;
    }
    int64_t now = cdof_clock_now_ms();
    for (;;) {
        rc = cdof_csv_next(csv, &rec, reason, sizeof reason);
        if (rc == 0 || rc == -EIO)
            break;
        if (rc == 1 && all_empty(&rec))
            continue;
        res->rows++;
        if (rc == 1 && rec.nfields != h.nfields) {
            snprintf(reason, sizeof reason, "the row has %zu fields, the header has %zu",
                     rec.nfields, h.nfields);
            rc = CDOF_EINVALID;
        }
        Cdof__V1__Envelope env = CDOF__V1__ENVELOPE__INIT;
        if (rc == 1) {
            rc = h.milestones ? milestone_row(ctx, &h, &rec, r, &env, reason, sizeof reason)
                              : metric_row(ctx, &h, &rec, name, r, &env, reason, sizeof reason);
        }
        if (rc < 0) {
            res->bad++;
            cdof_log_debug("%s:%lu: %s", name, rec.line, reason);
            write_error(errs, rec.line, reason, rec.raw, rec.raw_len);
            continue;
        }
        rc = agent_outbox_batch_add(b, &env, now);
        if (rc == -EMSGSIZE) {
            res->bad++;
            write_error(errs, rec.line, "the row is too large to send", rec.raw, rec.raw_len);
            continue;
        }
        if (rc < 0)
            goto done;
        res->good++;
    }
done:
    cdof_csv_destroy(&csv);
    if (rc == -EIO)
        return -EIO;
    return rc < 0 && rc != CDOF_EINVALID ? rc : 0;
}

int agent_take_stream(const agent_take_ctx_t *ctx, FILE *f, const char *name, FILE *errs,
                      agent_take_result_t *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    agent_fingerprint_t fp;
    agent_outbox_batch_t *b = NULL;
    row_t *r = malloc(sizeof *r); /* several KiB of bounded text: off the stack */
    int rc = r ? agent_fingerprint_stream(f, &fp) : -ENOMEM;
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", name, cdof_strerror(rc));
        goto fail;
    }
    rc = agent_outbox_file_lookup(ctx->ob, &fp, &res->previous);
    if (rc == 0) {
        res->duplicate = true;
        free(r);
        return 0;
    }
    for (int attempt = 0; attempt < TAKE_ATTEMPTS; attempt++) {
        rc = agent_outbox_batch_begin(ctx->ob, &fp, &b);
        if (rc == CDOF_EEXIST) {
            res->duplicate = true;
            free(r);
            return 0;
        }
        if (rc < 0)
            break;
        memset(res, 0, sizeof *res);
        rewind(f);
        if (errs) {
            rewind(errs);
            if (ftruncate(fileno(errs), 0) < 0) {
                rc = -errno;
                break;
            }
        }
        rc = take_rows(ctx, b, f, name, errs, res, r);
        if (rc == CDOF_EMAPFULL) {
            agent_outbox_batch_abort(&b);
            cdof_log_info("%s: the outbox map is full: growing it and taking the file again", name);
            continue;
        }
        if (rc < 0)
            break;
        agent_file_info_t info = {
            .taken_ms = cdof_clock_now_ms(), .rows = res->rows, .good = res->good, .bad = res->bad};
        snprintf(info.name, sizeof info.name, "%s", name);
        if (errs && res->bad > 0 && ctx->errors_ready &&
            (rc = ctx->errors_ready(ctx->errors_arg, name, errs)) < 0)
            break;
        rc = agent_outbox_batch_commit(&b, &info);
        res->first_seq = info.first_seq;
        if (rc == CDOF_EMAPFULL)
            continue;
        break;
    }
    agent_outbox_batch_abort(&b);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot write the outbox: %s", name, cdof_strerror(rc));
        goto fail;
    }
    if (errs && fflush(errs) != 0) {
        rc = -EIO;
        snprintf(err, errlen, "%s: cannot write the errors file", name);
        goto fail;
    }
    free(r);
    return 0;
fail:
    free(r);
    return rc;
}

/* --- the daemon's watcher ------------------------------------------------------------------ */

struct agent_intake {
    char errs_published[4096]; /* where the current file's report went, "" if not yet */
    uv_loop_t *loop;
    char *spool, *in_dir, *done_dir, *rejected_dir, *queue_dir;
    long rescan_ms;
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
    in->rescan_ms = opts->rescan_ms;
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

/* Takes one file found in dir. Queue files are deleted once taken. */
static void take_file(agent_intake_t *in, const char *dir, const char *name, bool queued)
{
    char path[4096], tmp[4096], final[4096], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return;
    if (strlen(name) > AGENT_FILE_NAME_MAX) {
        cdof_log_warn("ignoring %s: the name is longer than %d bytes", path, AGENT_FILE_NAME_MAX);
        return;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        cdof_log_warn("cannot open %s: %s", path, strerror(errno));
        return;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.errors.csv.tmp", in->rejected_dir, name);
    FILE *errs = fopen(tmp, "w+");
    if (!errs) {
        cdof_log_error("cannot create %s: %s", tmp, strerror(errno));
        fclose(f);
        return;
    }
    agent_take_result_t res;
    in->errs_published[0] = '\0';
    int rc = agent_take_stream(&in->take, f, name, errs, &res, err, sizeof err);
    fclose(f);
    if (rc < 0) {
        cdof_log_error("cannot take %s (will try again): %s", path, err);
        fclose(errs);
        unlink(in->errs_published[0] ? in->errs_published : tmp);
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

    if (res.duplicate) {
        char when[32];
        cdof_clock_format(res.previous.taken_ms, when, sizeof when);
        cdof_log_info("skipped %s: same content as %s, taken %s", name, res.previous.name, when);
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
    if (res.good && in->on_taken)
        in->on_taken(in->arg);
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
        if (!in->closed)
            take_file(in, dir, names[i], queued);
        free(names[i]);
    }
    free(names);
}

void agent_intake_scan(agent_intake_t *in)
{
    scan_dir(in, in->in_dir, false);
    if (in->queue_dir)
        scan_dir(in, in->queue_dir, true);
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
    in->rescan.data = in;
    in->notify.data = in;
    in->started = true;
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
    uv_close((uv_handle_t *)&in->rescan, NULL);
    uv_close((uv_handle_t *)&in->notify, NULL);
    if (in->watching_in)
        uv_close((uv_handle_t *)&in->watch_in, NULL);
    if (in->watching_queue)
        uv_close((uv_handle_t *)&in->watch_queue, NULL);
}
