/* Writes the annual report of a year whose data are partial, built by hand (no hub): drug deaths
 * from some areas only, England's figure covering 150 of 153 areas and provisional, a headline
 * with no data, rows rejected and a revision. The browser test checks that it says so and stays
 * accessible; the figures on the wire will come from the hub's period model.
 *
 *   report_fixture REFDIR OUT.html OUT.ods */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static Cdof__V1__NationalRow nat[2];
static Cdof__V1__MilestoneRow ms[2];

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: report_fixture REFDIR OUT.html OUT.ods\n");
        return 2;
    }
    char err[512];
    cdof_ref_t *ref = cdof_ref_load(argv[1], err, sizeof err);
    if (!ref) {
        fprintf(stderr, "report_fixture: %s\n", err);
        return 1;
    }
    cdof_report_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.year, sizeof r.year, "2024/25");
    cdof_date_parse("2024-04-01", &r.year_first);
    cdof_date_parse("2025-03-31", &r.year_last);
    r.as_of = r.year_last;
    r.generated_ms = (int64_t)r.year_last * 86400000;
    r.nmetrics = 2;
    r.metrics = calloc(2, sizeof *r.metrics);
    cdof_report_metric_t *rm = &r.metrics[0];
    rm->metric = cdof_ref_metric(ref, "drug_misuse_deaths");
    r.metrics[1].metric = cdof_ref_metric(ref, "drug_use_last_year");
    snprintf(rm->period, sizeof rm->period, "2022-2024");
    rm->mark = (cdof_report_mark_t){150, 153, true};
    rm->trend = calloc(3, sizeof *rm->trend);
    const char *periods[] = {"2020-2022", "2021-2023", "2022-2024"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(rm->trend[i].period, sizeof rm->trend[i].period, "%s", periods[i]);
        rm->trend[i].value = 9.5 + 0.4 * (double)i;
        rm->trend[i].provisional = i == 2;
    }
    rm->ntrend = 3;
    size_t na = cdof_ref_area_count(ref);
    rm->cells = calloc(na, sizeof *rm->cells);
    size_t k = 0;
    for (size_t i = 0; i < na; i++) {
        const cdof_area_t *a = cdof_ref_area_at(ref, i);
        cdof_report_cell_t *c = &rm->cells[i];
        c->lower = c->upper = NAN;
        if (a->kind != CDOF_AREA_UTLA) {
            c->has = true;
            c->value = 10.3;
            c->mark = (cdof_report_mark_t){a->kind == CDOF_AREA_REGION ? 11 : 150,
                                           a->kind == CDOF_AREA_REGION ? 12 : 153, true};
            continue;
        }
        if (k++ % 51 == 7)
            continue; /* three areas have not reported */
        c->has = c->has_count = true;
        c->count = 30 + (double)(i % 17);
        c->value = c->count / (3 * a->population) * 100000;
        c->lower = c->value * 0.7;
        c->upper = c->value * 1.3;
        c->vs_england = c->value > 14  ? CDOF__V1__VERDICT__VERDICT_WORSE
                        : c->value < 7 ? CDOF__V1__VERDICT__VERDICT_BETTER
                                       : CDOF__V1__VERDICT__VERDICT_SIMILAR;
        c->mark.provisional = i % 5 == 0;
        rm->areas_reporting++;
    }
    for (size_t i = 0; i < 2; i++)
        cdof__v1__national_row__init(&nat[i]);
    nat[0].metric_id = (char *)"drug_misuse_deaths";
    nat[0].metric_name = (char *)rm->metric->name;
    nat[0].headline = true;
    nat[0].has_latest = true;
    nat[0].latest = 10.3;
    nat[0].latest_period = (char *)"2022-2024";
    nat[0].kind = (char *)"direction";
    nat[0].commitment = (char *)"Reverse the upward trend in drug deaths";
    nat[1].metric_id = (char *)"drug_use_last_year";
    nat[1].metric_name = (char *)r.metrics[1].metric->name;
    nat[1].headline = true;
    nat[1].kind = (char *)"direction";
    static Cdof__V1__NationalRow *natp[2] = {&nat[0], &nat[1]};
    r.national = calloc(2, sizeof *r.national);
    memcpy(r.national, natp, sizeof natp);
    r.nnational = 2;
    r.national_marks = calloc(2, sizeof *r.national_marks);
    r.national_marks[0] = (cdof_report_mark_t){150, 153, true};

    r.names = calloc(2, sizeof *r.names);
    snprintf(r.names[0].id, sizeof r.names[0].id, "kent");
    snprintf(r.names[0].name, sizeof r.names[0].name,
             "Kent and Medway Combating Drugs "
             "Partnership");
    snprintf(r.names[1].id, sizeof r.names[1].id, "bristol");
    snprintf(r.names[1].name, sizeof r.names[1].name, "Bristol Drugs Partnership");
    r.nnames = 2;
    r.milestones = calloc(2, sizeof *r.milestones);
    const char *ids[] = {"bristol", "kent"};
    for (size_t i = 0; i < 2; i++) {
        cdof__v1__milestone_row__init(&ms[i]);
        ms[i].partnership = (char *)ids[i];
        ms[i].milestone_id = (char *)"progress_report";
        ms[i].deliverable = (char *)"Annual progress report";
        ms[i].status = (char *)(i ? "overdue" : "done_late");
        cdof_date_parse("2024-04-30", &ms[i].due_day);
        if (i)
            ms[i].overdue_since = ms[i].due_day;
        else
            cdof_date_parse("2024-06-15", &ms[i].done_day);
        r.milestones[i] = &ms[i];
    }
    r.nmilestones = 2;
    r.rejected_known = true;
    r.rejected = calloc(1, sizeof *r.rejected);
    snprintf(r.rejected[0].partnership, sizeof r.rejected[0].partnership, "bristol");
    r.rejected[0].rows = 3;
    snprintf(r.rejected[0].reason, sizeof r.rejected[0].reason,
             "field 'value': 'n/a' is not a number");
    r.nrejected = 1;
    r.revisions_known = true;
    r.revisions = calloc(1, sizeof *r.revisions);
    snprintf(r.revisions[0].metric_id, sizeof r.revisions[0].metric_id, "drug_misuse_deaths");
    snprintf(r.revisions[0].period, sizeof r.revisions[0].period, "2021-2023");
    cdof_date_parse("2024-12-02", &r.revisions[0].completed_day);
    r.revisions[0].batches = 2;
    r.revisions[0].rows = 3;
    cdof_date_parse("2025-02-10", &r.revisions[0].revised_day);
    r.nrevisions = 1;

    int rc = cdof_report_suppress(&r, ref);
    cdof_rr_buf_t html = {0};
    cdof_rr_table_t **tables = NULL;
    size_t ntables = 0;
    if (rc >= 0)
        rc = cdof_report_build(&r, ref, &html, &tables, &ntables);
    FILE *f = rc >= 0 ? fopen(argv[2], "w") : NULL;
    if (!f || fwrite(html.data, 1, html.len, f) != html.len || fclose(f) != 0) {
        fprintf(stderr, "report_fixture: cannot write %s\n", argv[2]);
        rc = -1;
    }
    if (rc >= 0 && cdof_report_write_ods((const cdof_rr_table_t *const *)tables, ntables, "fixture",
                                         "", argv[3], err, sizeof err) < 0) {
        fprintf(stderr, "report_fixture: %s\n", err);
        rc = -1;
    }
    for (size_t i = 0; i < ntables; i++)
        cdof_rr_table_free(&tables[i]);
    free(tables);
    cdof_rr_buf_free(&html);
    cdof_report_free(&r); /* the arrays; the rows they point at are static */
    cdof_ref_destroy(&ref);
    return rc < 0 ? 1 : 0;
}
