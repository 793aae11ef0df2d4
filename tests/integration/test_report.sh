#!/usr/bin/env bash
# shellcheck disable=SC2046,SC2015 # it_sec's flags split on purpose; A && B || it_fail is meant
# JCDU queries and the annual report on a known dataset:
# - drug misuse deaths for every area, 2021-2023, at England's rate except Hartlepool and
#   Blackpool (three times it: worse than England), Rutland (3 deaths: a small count) and the
#   Isles of Scilly (0);
# - progress reports: Leeds on time every year, Kent not since 2023 (overdue since 2024-04-30),
#   Bristol late in 2024.
# - hospital admissions for 2024/25 from 107 of the 153 areas: a period the hub keeps open, so
#   its figures are provisional (while the deaths period, all 153 areas, is complete).
# Checks query answers (league verdicts, paging, national summary, milestone compliance), a CSV
# round trip of every area's figures, the report's structure, its key findings, suppression in
# the published edition and marks in the internal one; coverage, provisional marks (HTML, CSV,
# ODS) and the missing areas from the hub's period model; the ODS workbook read back by python3-odf;
# in Chromium (when installed), axe-core at 1280 and 400 px on the report and on a report of
# partial data (report_fixture) with its coverage and provisional marks, and the A4 PDF.
#
#   test_report.sh --hub P --agent P --query P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init report "$@"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
refdir=${IT_REFDIR:-$here/../../proto/data}

read -r p_ingest p_alerts p_query < <(it_free_ports 3) || true
[ -n "${p_query:-}" ] || it_fail "could not pick free ports"
ingest="tcp://127.0.0.1:$p_ingest"
query="tcp://127.0.0.1:$p_query"

# --- the known dataset --------------------------------------------------------------------------
deaths="$IT_DIR/deaths.csv"
awk -F, 'NR == 1 { print "metric_id,area_code,period,numerator,denominator,value,note"; next }
    { pop = $NF; den = 3 * pop; num = int(den * 10 / 100000 + 0.5)
      if ($1 == "E06000001" || $1 == "E06000009") num *= 3
      if ($1 == "E06000017") num = 3
      if ($1 == "E06000053") num = 0
      printf "drug_misuse_deaths,%s,2021-2023,%d,%d,,\n", $1, num, den }' \
    "$refdir/areas.csv" >"$deaths"
rows=$(($(wc -l <"$deaths") - 1))
[ "$rows" -eq 153 ] || it_fail "expected 153 areas in areas.csv, built $rows rows"
# A period still open: hospital admissions for 2024/25 from 107 of the 153 areas (none from the
# North East or London, nor Leeds), all at one rate; 70% is below the 90% threshold, so the period
# stays open past its deadline and England's figure, summed from it, stays provisional.
admissions="$IT_DIR/admissions.csv"
awk -F, 'NR == 1 { print "metric_id,area_code,period,numerator,denominator,value,note"; next }
    $3 == "E12000001" || $3 == "E12000007" || $1 == "E08000035" { next }
    { printf "hospital_admissions_drug_poisoning,%s,2024/25,%d,%d,,\n", $1, int($NF * 2 / 1000 + 0.5), $NF }' \
    "$refdir/areas.csv" >"$admissions"
adm_rows=$(($(wc -l <"$admissions") - 1))
[ "$adm_rows" -eq 107 ] || it_fail "expected 107 areas' admissions, built $adm_rows rows"

milestones() { # ID DATES...: progress reports on those days, and the one-off deliverables
    local id=$1 d
    shift
    echo "milestone,partnership,date,ref,note"
    for d in sro_nominated partnership_formed footprint_confirmed; do echo "$d,$id,2022-07-01,,"; done
    for d in terms_of_reference delivery_plan performance_framework needs_assessment; do
        echo "$d,$id,2022-09-01,,"
    done
    for d in "$@"; do echo "progress_report,$id,$d,https://example.org/$id/$d,"; done
}

# Configured partnerships, with the names people know them by: leeds (which reports milestones)
# of two areas, kent and bristol of one each, and one of Rutland (3 deaths) and Leicester that
# reports nothing and has no name (its id is shown).
cat >"$IT_DIR/partnerships.csv" <<'CSV'
partnership,area_code,name
leeds,E08000035,Leeds and Wakefield Combating Drugs Partnership
leeds,E08000036,
kent,E10000016,Kent and Medway Combating Drugs Partnership
bristol,E06000023,"Bristol Drugs Partnership, City Council"
rutland-leicester,E06000017,
rutland-leicester,E06000016,
CSV
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "tcp://127.0.0.1:$p_alerts" \
    --query "$query" --partnerships "$IT_DIR/partnerships.csv" $(it_sec hub hub)
it_wait_hub
agent() { # ID AREAS|--national FILE [CLAIMED_AREAS]: the agent's --areas (default: its key's)
    local id=$1 areas=$2 file=$3 role=partnership flags
    if [ "$areas" = --national ]; then role=national flags=(--national); else flags=(--areas "${4:-$areas}"); fi
    mkdir -p "$IT_DIR/$id/spool/in"
    it_start "agent-$id" "$IT_AGENT" --id "$id" --hub "$ingest" --spool "$IT_DIR/$id/spool" \
        --data "$IT_DIR/$id/data" "${flags[@]}" $(it_sec "$role" "$id" "${areas#--national}")
    it_drop "$IT_DIR/$id/spool" "$file"
}
milestones leeds 2023-04-20 2024-04-10 >"$IT_DIR/leeds.csv"
milestones kent 2023-04-20 >"$IT_DIR/kent.csv"
milestones bristol 2023-04-28 2024-06-15 >"$IT_DIR/bristol.csv"
agent ons --national "$deaths"
agent ohid --national "$admissions"
agent leeds E08000035,E08000036 "$IT_DIR/leeds.csv" # the registry's areas = its configured ones
agent kent E10000016 "$IT_DIR/kent.csv"
agent bristol E06000023 "$IT_DIR/bristol.csv" E06000023,E06000024
# Bristol's agent also claims North Somerset, which its key does not cover: the hub refuses that
# row (with CURVE; --insecure trusts every sender) and the report's data quality section lists it.
printf '%s\n' "metric_id,area_code,period,numerator,denominator,value,note" \
    "drug_misuse_deaths,E06000024,2021-2023,20,600000,," >"$IT_DIR/bristol-rows.csv"
it_drop "$IT_DIR/bristol/spool" "$IT_DIR/bristol-rows.csv"

q() { it_query "$@" --hub "$query" $(it_sec jcdu query); }
settled() {
    q "$IT_DIR/ms.csv" milestones --format csv &&
        [ "$(grep -c 'progress_report,.*example.org' "$IT_DIR/ms.csv")" -eq 3 ] &&
        q "$IT_DIR/league.csv" league drug_misuse_deaths 2021-2023 --format csv &&
        [ "$(($(grep -c . "$IT_DIR/league.csv") - 1))" -eq 153 ] &&
        q "$IT_DIR/league-adm.csv" league hospital_admissions_drug_poisoning 2024/25 --format csv &&
        [ "$(($(grep -c . "$IT_DIR/league-adm.csv") - 1))" -eq 107 ] &&
        q "$IT_DIR/alerts.csv" alerts --format csv && # judged once a period's data is quiet
        [ "$(($(grep -c . "$IT_DIR/alerts.csv") - 1))" -ge 4 ] &&
        it_settled "$query" $(it_sec jcdu query) # no stored comparison still to update
}
it_wait "153 deaths and 107 admissions figures, 3 partnerships' milestones and the alerts at the hub" 60 settled

# --- 1. queries against the known dataset ---------------------------------------------------------
csv_has() { it_csv_has "$1" "$2" || it_fail "no row of $(basename "$1") with $2"; }
league="$IT_DIR/league.csv"
csv_has "$league" 'f["area_code"] == "E06000001" && f["vs_england"] == "worst" && f["quintile"] == 5'
csv_has "$league" 'f["area_code"] == "E06000009" && f["vs_england"] == "worst"'
csv_has "$league" 'f["area_code"] == "E08000035" && f["vs_england"] == "similar"'
worse=$(awk -F, 'NR > 1 && ($0 ~ /,worse,|,worst,/) { n++ } END { print n + 0 }' "$league")
[ "$worse" -eq 2 ] || it_fail "expected 2 areas worse than England, the league has $worse"

# CSV round trip: every area's numerator and denominator as sent, names with commas intact.
awk -F, "$IT_AWK_SPLIT_CSV"'
    FILENAME == ARGV[1] { if (FNR > 1) { sent[$2] = $4 "/" $5 }; next }
    FNR == 1 { n = split_csv($0, col); for (i = 1; i <= n; i++) at[col[i]] = i; next }
    { split_csv($0, c); got = c[at["numerator"]] "/" c[at["denominator"]]
      if (sent[c[at["area_code"]]] != got) { print "round trip: " c[at["area_code"]] " sent " sent[c[at["area_code"]]] " got " got; bad = 1 }
      seen++ }
    END { if (seen != 153) { print "round trip: " seen " rows"; bad = 1 }; exit bad }' \
    "$deaths" "$league" || it_fail "the league CSV does not give back what was sent"
csv_has "$league" 'f["area_name"] == "Bournemouth, Christchurch and Poole"'

# A partnership profiled as one: counts summed, compared with England; with its region only when
# its areas share one (Hartlepool is in the North East, Blackpool in the North West).
sum=$(awk -F, '$2 == "E06000001" || $2 == "E06000009" { n += $4; d += $5 } END { print n "," d }' "$deaths")
q "$IT_DIR/pair.csv" area pair --members E06000001,E06000009 --format csv || it_fail "partnership profile failed"
csv_has "$IT_DIR/pair.csv" 'f["area_code"] == "pair" && f["metric_id"] == "drug_misuse_deaths" && f["numerator"] "," f["denominator"] == "'"$sum"'" && f["vs_england"] == "worst" && f["vs_region"] == "not_compared"'
q "$IT_DIR/tees.csv" area tees --members E06000002,E06000003 --format csv || it_fail "partnership profile failed"
csv_has "$IT_DIR/tees.csv" 'f["vs_england"] == "similar" && f["vs_region"] == "similar"'
rc=0
q "$IT_DIR/x.csv" area bad --members E06000002,E99999999 || rc=$?
[ "$rc" -eq 1 ] || it_fail "a partnership with an unknown member exited $rc, expected 1"

# Paging: ten rows a page gives the same table.
q "$IT_DIR/paged.csv" league drug_misuse_deaths 2021-2023 --format csv --page-size 10 ||
    it_fail "paged league query failed"
cmp -s "$league" "$IT_DIR/paged.csv" || it_fail "paging changed the league table"

# Alerts: Hartlepool and Blackpool, each worse than England and than its region. Pages of one
# alert give the same list; filters by region, team and state.
q "$IT_DIR/alerts.csv" alerts --format csv || it_fail "alerts query failed"
q "$IT_DIR/alerts-paged.csv" alerts --format csv --page-size 1 || it_fail "paged alerts failed"
cmp -s "$IT_DIR/alerts.csv" "$IT_DIR/alerts-paged.csv" || it_fail "paging changed the alerts"
[ "$(($(grep -c . "$IT_DIR/alerts.csv") - 1))" -eq 4 ] || it_fail "expected 4 alerts"
q "$IT_DIR/alerts-ne.csv" alerts --format csv --region E12000001 --team ohid --state firing ||
    it_fail "filtered alerts failed"
[ "$(($(grep -c . "$IT_DIR/alerts-ne.csv") - 1))" -eq 2 ] &&
    ! grep -q E06000009 "$IT_DIR/alerts-ne.csv" || it_fail "the North East filter kept other alerts"

q "$IT_DIR/ms.csv" milestones --format csv --as-of 2025-03-31 || it_fail "milestones query failed"
csv_has "$IT_DIR/ms.csv" 'f["partnership"] == "kent" && f["milestone_id"] == "progress_report" && f["status"] == "overdue" && f["overdue_since"] == "2024-04-30"'
csv_has "$IT_DIR/ms.csv" 'f["partnership"] == "bristol" && f["milestone_id"] == "progress_report" && f["status"] == "done_late" && f["done_on"] == "2024-06-15"'
csv_has "$IT_DIR/ms.csv" 'f["partnership"] == "leeds" && f["milestone_id"] == "progress_report" && f["status"] == "done"'
# With the partnerships file, milestones name each partnership as people know it.
q "$IT_DIR/ms-named.csv" milestones --format csv --partnerships "$IT_DIR/partnerships.csv" ||
    it_fail "milestones --partnerships failed"
csv_has "$IT_DIR/ms-named.csv" 'f["partnership"] == "kent" && f["partnership_name"] == "Kent and Medway Combating Drugs Partnership"'
csv_has "$IT_DIR/ms-named.csv" 'f["partnership"] == "rutland-leicester" && f["partnership_name"] == "rutland-leicester"'
# A configured partnership that never reported is listed, owing everything.
csv_has "$IT_DIR/ms.csv" 'f["partnership"] == "rutland-leicester" && f["milestone_id"] == "progress_report" && f["status"] == "overdue"'

q "$IT_DIR/national.json" national --format json || it_fail "national query failed"
grep -q '"metric_id": *"drug_misuse_deaths"' "$IT_DIR/national.json" ||
    it_fail "the national summary has no drug deaths row"
q "$IT_DIR/national.csv" national --format csv || it_fail "national query (csv) failed"
csv_has "$IT_DIR/national.csv" 'f["metric_id"] == "county_lines_closed" && f["target"] == 2000'

# Exit codes a script can use: 2 bad usage, 1 the hub refused.
rc=0
"$IT_QUERY" --hub "$query" $(it_sec jcdu query) report --year 2024 --out "$IT_DIR/x.html" \
    2>>"$IT_DIR/logs/query.log" || rc=$?
[ "$rc" -eq 2 ] || it_fail "report --year 2024 (not a financial year) exited $rc, expected 2"
rc=0
q "$IT_DIR/x.csv" league no_such_metric 2023 || rc=$?
[ "$rc" -eq 1 ] || it_fail "league of an unknown metric exited $rc, expected 1"
# A request the hub cannot accept (an area code far too long) is refused under its own id: a
# clear exit 1 with the reason, not a wait for an answer (exit 3).
rc=0
q "$IT_DIR/x.csv" area "E$(printf '0%.0s' $(seq 1 100))" || rc=$?
[ "$rc" -eq 1 ] || it_fail "an over-long area code exited $rc, expected 1"
grep -q "area_code is longer than" "$IT_DIR/logs/query.log" || it_fail "the refusal gave no reason"

# --- 2. the report ---------------------------------------------------------------------------------
pub="$IT_DIR/report.html"
internal="$IT_DIR/report-internal.html"
pdf="$IT_DIR/report.pdf" ods="$IT_DIR/report.ods"
chromium=$(command -v chromium || command -v chromium-browser || true)
rc=0
# Printing 30-odd pages takes Chromium longer than it_query's 10 s on a loaded machine.
timeout 300 "$IT_QUERY" --hub "$query" $(it_sec jcdu query) report --year 2024/25 --out "$pub" \
    --ods "$ods" --pdf "$pdf" --partnerships "$IT_DIR/partnerships.csv" >"$IT_DIR/report.out" \
    2>>"$IT_DIR/logs/query.log" || rc=$?
if [ -n "$chromium" ]; then
    [ "$rc" -eq 0 ] || it_fail "report failed (exit $rc)"
else # the HTML and ODS are written; the PDF is refused with a reason and exit 4
    [ "$rc" -eq 4 ] && grep -q "headless Chromium was not found" "$IT_DIR/logs/query.log" ||
        it_fail "report without a browser exited $rc, expected 4 with a reason"
fi
q "$IT_DIR/report-internal.out" report --year 2024/25 --out "$internal" --internal \
    --partnerships "$IT_DIR/partnerships.csv" || it_fail "internal report failed"
# Asked for a PDF with no browser to print it: the HTML is still written, and it says why (exit 4).
rc=0
CDOF_CHROMIUM=$IT_DIR/no-such-browser q "$IT_DIR/x.out" report --year 2024/25 --out "$IT_DIR/nopdf.html" \
    --pdf "$IT_DIR/nopdf.pdf" || rc=$?
[ "$rc" -eq 4 ] && [ -s "$IT_DIR/nopdf.html" ] && [ ! -e "$IT_DIR/nopdf.pdf" ] &&
    grep -q "no PDF written: headless Chromium was not found" "$IT_DIR/logs/query.log" ||
    it_fail "report --pdf without a browser exited $rc, expected 4 with the HTML written and a reason"
rc=0
q "$IT_DIR/x.out" report --year 2024/25 --out "$IT_DIR/x.html" --partnerships "$deaths" || rc=$?
[ "$rc" -eq 2 ] && grep -q "deaths.csv:1: expected the header partnership,area_code" "$IT_DIR/logs/query.log" ||
    it_fail "a partnerships file with the wrong header exited $rc, expected 2 naming the file and line"
for f in "$pub" "$internal"; do
    awk -f "$here/html_check.awk" "$f" >&2 || it_fail "$(basename "$f") is not well-formed HTML"
    ! grep -Eq '(src|href)="(https?:)?//' "$f" || it_fail "$(basename "$f") refers to the network"
done

# The key findings: a reader finds the two areas and the two late partnerships, first in the
# summary at the top, then in the tables.
sed -n '/<ul class="summary">/,/<\/ul>/p' "$pub" >"$IT_DIR/summary.html"
grep -q '2 areas are worse than England (2021 to 2023): Blackpool, Hartlepool\.' "$IT_DIR/summary.html" &&
    grep -q 'Kent and Medway Combating Drugs Partnership is overdue (since 30 April 2024)' "$IT_DIR/summary.html" &&
    grep -q 'Bristol Drugs Partnership, City Council reported late (on 15 June 2024)' "$IT_DIR/summary.html" &&
    ! grep -qi leeds "$IT_DIR/summary.html" ||
    it_fail "the summary at the top does not answer both questions: $(cat "$IT_DIR/summary.html")"
section() { # ID FILE: the text of one h3's part of the key findings
    awk -v id="$1" 'index($0, "id=\"" id "\"") { on = 1 } on && /<h3/ && !index($0, "id=\"" id "\"") { exit } on' "$2"
}
section deaths-worse "$pub" >"$IT_DIR/deaths-worse.html"
rowhead='<tr><th scope="row" class="txt">'
for name in Hartlepool Blackpool; do
    grep -q "$rowhead$name</th>" "$IT_DIR/deaths-worse.html" || it_fail "$name is not listed as worse than England"
done
[ "$(grep -c "$rowhead" "$IT_DIR/deaths-worse.html")" -eq 2 ] ||
    it_fail "the deaths finding lists other areas than Hartlepool and Blackpool"
section progress-late "$pub" >"$IT_DIR/progress-late.html"
grep -q "${rowhead}Kent and Medway Combating Drugs Partnership</th><td class=\"txt\">overdue" "$IT_DIR/progress-late.html" ||
    it_fail "kent is not shown overdue by name"
grep -q "${rowhead}Bristol Drugs Partnership, City Council</th><td class=\"txt\">reported late" "$IT_DIR/progress-late.html" ||
    it_fail "bristol is not shown late by name"
! grep -q "${rowhead}Leeds" "$IT_DIR/progress-late.html" || it_fail "leeds is shown late"

# No small counts in the published edition: Rutland's 3 deaths give a rate of 2.5 per 100,000 that
# must not appear in any of its cells; a second East Midlands figure is withheld with it so the
# region's total cannot give it away. The internal edition shows it.
cells() { grep -o "data-area=\"$1\" data-metric=\"drug_misuse_deaths\"[^>]*>[^<]*" "$2" | sed 's/.*>//; s/ per .*//' | sort -u; }
[ "$(cells E06000017 "$pub")" = "*" ] || it_fail "Rutland's small count is not withheld: $(cells E06000017 "$pub")"
em=$(grep -o 'data-area="E[0-9]*" data-metric="drug_misuse_deaths"[^>]*>\*' "$pub" | sort -u | grep -c . || true)
[ "$em" -ge 2 ] || it_fail "only $em deaths figure(s) withheld: no secondary suppression"
rutland_rate=$(awk -F, '$1 == "E06000017" { printf "%.1f", 3 / (3 * $NF) * 100000 }' "$refdir/areas.csv")
[ "$(cells E06000017 "$internal")" = "$rutland_rate" ] ||
    it_fail "the internal edition does not show Rutland's $rutland_rate: $(cells E06000017 "$internal")"
sections=$(grep -c '^<section' "$internal")
marks=$(grep -c 'class="mark">OFFICIAL-SENSITIVE' "$internal")
[ "$marks" -ge "$sections" ] && [ "$sections" -ge 8 ] ||
    it_fail "the internal edition marks $marks of $sections sections"
! grep -q 'OFFICIAL-SENSITIVE' "$pub" || it_fail "the published edition is marked internal"

# Spine ranges leave out rates from fewer than 10 deaths: the Isles of Scilly's 0 is no "best".
! grep -q '>0.0 per 100,000 (Isles of Scilly)<' "$pub" ||
    it_fail "the spine charts' best area is the Isles of Scilly's rate from 0 deaths"

# Partnership rows: leeds is Leeds and Wakefield, its deaths rate their summed numerators over
# their summed denominators; Rutland's 3 inside rutland-leicester must not come back as the
# partnership's figure less Leicester's, so those two are not both shown.
grep -q '<section id="partnerships"' "$pub" || it_fail "the report has no partnerships section"
row=$(grep -o "${rowhead}Leeds and Wakefield Combating Drugs Partnership</th>.*</tr>" "$pub") ||
    it_fail "no partnership row for leeds under its name"
grep -q '<td class="txt">Leeds, Wakefield</td>' <<<"$row" ||
    it_fail "leeds's row does not name Leeds then Wakefield (reference order): $row"
leeds_rate=$(awk -F, '$2 == "E08000035" || $2 == "E08000036" { n += $4; d += $5 }
    END { printf "%.1f", n / d * 100000 }' "$deaths")
[ "$(cells leeds "$pub")" = "$leeds_rate" ] ||
    it_fail "leeds's deaths rate is $(cells leeds "$pub"), expected $leeds_rate"
[ "$(cells rutland-leicester "$pub")" = "*" ] || [ "$(cells E06000016 "$pub")" = "*" ] ||
    it_fail "rutland-leicester and Leicester are both shown: Rutland's count follows"
[ "$(cells rutland-leicester "$internal")" != "*" ] ||
    it_fail "the internal edition withholds rutland-leicester"

# --- 3. the ODS workbook, read back by an independent reader -------------------------------------
# python3-odf reads every sheet; each area's deaths figure in the area-profiles sheet equals the
# hub's league CSV (to 1 part in 10^9), a withheld one is [c], and every table is a sheet.
# ODF packages start with the mimetype, stored, so that a reader can tell the type at offset 30.
[ "$(dd if="$ods" bs=1 skip=30 count=54 2>/dev/null)" = mimetypeapplication/vnd.oasis.opendocument.spreadsheet ] ||
    it_fail "$ods does not start with its stored mimetype"
/usr/bin/python3 "$here/ods_read.py" "$ods" >"$IT_DIR/ods.csv" 2>>"$IT_DIR/logs/ods.log" ||
    it_fail "python3-odf could not read $ods: $(tail -3 "$IT_DIR/logs/ods.log")"
awk -F, "$IT_AWK_SPLIT_CSV"'
    FILENAME == ARGV[1] { if (FNR == 1) { n = split_csv($0, col); for (i = 1; i <= n; i++) at[col[i]] = i; next }
        split_csv($0, c); v[c[at["area_code"]]] = c[at["value"]]; next }
    { split_csv($0, c) }
    c[1] == "area-profiles" && c[6] ~ /^Deaths related to drug misuse/ {
        code = c[4]; got = c[9]; want = v[code]; seen++
        if (got == "[c]") { withheld++; if (code == "E06000017") rutland = 1; next }
        d = want - got; if (d < 0) d = -d
        if (want == "" || d > 1e-9 * (want < 0 ? -want : want)) { print "ods: " code " has " got ", the hub " want; bad = 1 }
    }
    END { if (seen != 153) { print "ods: " seen " deaths rows in area-profiles"; bad = 1 }
          if (!rutland || withheld < 2) { print "ods: Rutland not withheld, or no secondary"; bad = 1 }
          exit bad }' "$IT_DIR/league.csv" "$IT_DIR/ods.csv" || it_fail "the ODS workbook does not give back the hub's figures"
# Provisional figures are marked [p] in the workbook as well: every shown admissions figure in the
# area profiles, and no deaths figure.
awk -F, "$IT_AWK_SPLIT_CSV"'
    { split_csv($0, c) }
    c[1] == "area-profiles" && c[6] ~ /^Hospital admissions/ { an++; if (index($0, "[p]")) ap++ }
    c[1] == "area-profiles" && c[6] ~ /^Deaths related/ && index($0, "[p]") { dp++ }
    END { if (an < 107 || ap < 100 || dp) { print "ods: " ap " of " an " admissions rows and " dp + 0 " deaths rows marked [p]"; exit 1 } }' \
    "$IT_DIR/ods.csv" || it_fail "the ODS workbook does not mark the open period's figures provisional"
sheets=$(awk -F, '$1 == "Cover" && $2 > 3 { n++ } END { print n + 0 }' "$IT_DIR/ods.csv")
links=$(grep -o 'download="[^"]*\.csv"' "$pub" | sort -u | grep -vc 'profile-E' || true)
[ "$sheets" -ge 15 ] && [ "$sheets" -eq "$links" ] ||
    it_fail "the workbook has $sheets tables, the report offers $links CSV downloads (besides profiles)"

# --- 4. in Chromium: accessibility, narrow screens, print ------------------------------------------
fixture="$IT_DIR/partial.html"
"${CDOF_REPORT_FIXTURE:?set by ctest: the report_fixture program}" "$refdir" "$fixture" "$IT_DIR/partial.ods" ||
    it_fail "report_fixture failed"
grep -q '150 of 153 areas' "$fixture" && grep -q 'class="vh">(provisional)' "$fixture" &&
    grep -q 'No figure: none submitted' "$fixture" ||
    it_fail "the partial-data report does not mark coverage, provisional figures or a missing headline"
# Coverage and provisional marks from the hub's period model. The deaths period is complete
# (153 of 153 areas): no figure of it is marked. The admissions period is open (107 of 153): its
# figures are marked, and Data completeness names the missing areas by region. The hub gives every
# figure's coverage, so the report never says it was not reported.
! grep -q '>coverage not reported' "$pub" || it_fail "the report says coverage not reported, though the hub gave it"
marked() { # METRIC FILE: figures of the metric marked provisional, and all its figures
    awk -v m="data-metric=\"$1\"" 'BEGIN { RS = "</td>" } index($0, m) { n++; if (index($0, "(provisional)")) p++ }
        END { print p + 0, n + 0 }' "$2"
}
read -r dp dn < <(marked drug_misuse_deaths "$pub")
read -r ap an < <(marked hospital_admissions_drug_poisoning "$pub")
[ "$dn" -ge 153 ] && [ "$dp" -eq 0 ] || it_fail "$dp of $dn figures of the complete deaths period are marked provisional"
[ "$an" -ge 107 ] && [ "$ap" -ge 100 ] || it_fail "only $ap of $an figures of the open admissions period are marked provisional"
sed -n '/<section id="completeness"/,/<\/section>/p' "$pub" >"$IT_DIR/completeness.html"
for want in '107 of 153 areas' '153 of 153 areas' 'North East: all 12 areas; Yorkshire and The Humber: Leeds; London: all 33 areas' \
    'open: returns still due' '>complete<'; do
    grep -q "$want" "$IT_DIR/completeness.html" || it_fail "Data completeness does not say '$want'"
done
grep -q "107 of 153 areas; no period is complete yet" "$pub" ||
    it_fail "the headline table does not say why admissions are provisional"
# The downloads say it too: a region's table as CSV marks the open period's figures [p] in Notes.
/usr/bin/python3 - "$pub" >"$IT_DIR/region-yh.csv" <<'PY' || it_fail "no CSV download of the Yorkshire table"
import re, sys, urllib.parse
html = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'download="region-E12000003-table\.csv" href="data:text/csv;charset=utf-8,([^"]*)"', html)
sys.stdout.write(urllib.parse.unquote(m.group(1)))
PY
grep -q '\[p\]' "$IT_DIR/region-yh.csv" && grep -q '107 of 153 areas' "$IT_DIR/region-yh.csv" ||
    it_fail "the Yorkshire table's CSV does not mark provisional figures or England's coverage"
if [ -z "$chromium" ]; then
    it_log "SKIP browser checks: chromium is not installed (deploy/dev.sh deps installs it)"
else
    command -v npm >/dev/null && command -v node >/dev/null ||
        it_fail "chromium is installed but node/npm are not (deploy/dev.sh deps installs them)"
    mods=${CDOF_NODE_MODULES:-$IT_DIR/browser}
    mkdir -p "$mods"
    if ! cmp -s "$here/../browser/package-lock.json" "$mods/package-lock.json" ||
        [ ! -d "$mods/node_modules/axe-core" ]; then
        cp "$here/../browser/package.json" "$here/../browser/package-lock.json" "$mods/"
        (cd "$mods" && timeout 300 npm ci --ignore-scripts --no-audit --no-fund) \
            >>"$IT_DIR/logs/npm.log" 2>&1 || { rm -f "$mods/package-lock.json"; it_fail "npm ci failed: $(tail -5 "$IT_DIR/logs/npm.log")"; }
    fi
    cp "$here/../browser/check_report.mjs" "$mods/"
    mkdir -p "$IT_DIR/shots"
    timeout 600 node "$mods/check_report.mjs" --chromium "$chromium" --shots "$IT_DIR/shots" \
        "$pub" >"$IT_DIR/logs/browser.log" 2>&1 ||
        it_fail "the report fails in Chromium: $(grep FAIL "$IT_DIR/logs/browser.log" | head -8)"
    timeout 600 node "$mods/check_report.mjs" --chromium "$chromium" --shots "$IT_DIR/shots" \
        --expect "150 of 153 areas" --expect "provisional" --expect "No figure: none submitted" \
        --expect "Bristol Drugs Partnership" --expect "3" "$fixture" >>"$IT_DIR/logs/browser.log" 2>&1 ||
        it_fail "the partial-data report fails in Chromium: $(grep FAIL "$IT_DIR/logs/browser.log" | head -8)"
    it_log "$(grep -c ': 0 axe violations' "$IT_DIR/logs/browser.log") of 4 page renderings free of axe violations"

    # The PDF: A4, page numbers, no browser header or footer, no one-profile pages.
    pdfinfo "$pdf" >"$IT_DIR/pdfinfo.txt" 2>&1 || it_fail "pdfinfo cannot read $pdf"
    grep -Eq '^Page size: +59[45]\.[0-9]* x 841\.[0-9]* pts \(A4\)' "$IT_DIR/pdfinfo.txt" ||
        it_fail "the PDF is not A4: $(grep 'Page size' "$IT_DIR/pdfinfo.txt")"
    pages=$(awk '/^Pages:/ { print $2 }' "$IT_DIR/pdfinfo.txt")
    profiles=$(grep -c '<div class="profile">' "$pub")
    # 153 one-row profiles, grouped: several to a page, so far fewer pages than profiles.
    [ "$pages" -ge 8 ] && [ "$pages" -le $((profiles / 3)) ] ||
        it_fail "the PDF has $pages pages for $profiles area profiles"
    pdftotext -layout "$pdf" "$IT_DIR/report.txt"
    ! grep -q 'file://' "$IT_DIR/report.txt" || it_fail "the PDF shows the browser's file:// footer"
    grep -q "Page 1 of $pages" "$IT_DIR/report.txt" && grep -q "Page $pages of $pages" "$IT_DIR/report.txt" ||
        it_fail "the PDF's pages are not numbered"
    # Headings kept with what follows: no page's last line is a heading of the report.
    grep -o '<h[234][^>]*>[^<]*</h[234]>' "$pub" | sed 's/<[^>]*>//g' >"$IT_DIR/headings.txt"
    awk 'NR == FNR { h[$0] = 1; next }
        { n = split($0, line, "\n"); last = ""
          for (i = 1; i <= n; i++) { t = line[i]; gsub(/^ +| +$/, "", t)
              if (t != "" && t !~ /^Page [0-9]+ of [0-9]+$/) last = t }
          if (last in h) { print "page " FNR " ends with the heading \"" last "\""; bad = 1 } }
        END { exit bad }' "$IT_DIR/headings.txt" RS='\f' "$IT_DIR/report.txt" ||
        it_fail "a heading is left at the foot of a page"
    it_log "PDF: $pages A4 pages for $profiles area profiles"
fi

# --- 5. data quality: refused rows and a period revised after it was complete ------------------
# Admissions 2024/25 is closed by a person, then a corrected return revises it: a later report
# lists the revision (when, how many areas) beside the row the hub refused from Bristol.
secure=1
[ "${IT_INSECURE:-0}" = 1 ] && secure=0
if [ "$secure" = 1 ]; then
    q "$IT_DIR/rejections.csv" rejections --format csv || it_fail "rejections query failed"
    csv_has "$IT_DIR/rejections.csv" 'f["agent_id"] == "bristol" && f["partnership"] == "bristol" && f["reason"] ~ /not one of this agent.s areas/ && f["rejected_ms"] > 0'
    q "$IT_DIR/rejections-later.csv" rejections --since 2999-01-01 --format csv ||
        it_fail "rejections --since failed"
    [ "$(grep -c . "$IT_DIR/rejections-later.csv")" -le 1 ] || it_fail "rejections --since kept older ones"
fi
q "$IT_DIR/close.csv" close hospital_admissions_drug_poisoning 2024/25 --by "Test Lead" \
    --reason "107 of 153 areas is all this test sends" --format csv || it_fail "close failed"
printf '%s\n' "metric_id,area_code,period,numerator,denominator,value,note" \
    "hospital_admissions_drug_poisoning,E06000023,2024/25,999,400000,,corrected" \
    "hospital_admissions_drug_poisoning,E06000024,2024/25,998,200000,,corrected" >"$IT_DIR/revised.csv"
it_drop "$IT_DIR/ohid/spool" "$IT_DIR/revised.csv"
revised() {
    q "$IT_DIR/cov.csv" coverage hospital_admissions_drug_poisoning --format csv &&
        it_csv_has "$IT_DIR/cov.csv" 'f["period"] == "2024/25" && f["revisions"] >= 1'
}
it_wait "the closed admissions period to be revised" 30 revised
it_wait "comparisons settled" 30 it_settled "$query" $(it_sec jcdu query) # the league's times
quality="$IT_DIR/report-quality.html"
q "$IT_DIR/report-quality.out" report --year 2024/25 --out "$quality" \
    --partnerships "$IT_DIR/partnerships.csv" || it_fail "the second report failed"
section() { # ID: the text of the report's table with that id, one cell a line
    awk -v id="$1" 'index($0, "id=\"" id "\"") { on = 1 } on { print } on && /<\/table>/ { exit }' \
        "$quality" | sed 's/<[^>]*>/\n/g' | grep -v '^ *$'
}
section revisions-table >"$IT_DIR/revisions.txt"
grep -q "Hospital admissions" "$IT_DIR/revisions.txt" && grep -q "2024/25 (April 2024 to March 2025)" "$IT_DIR/revisions.txt" ||
    it_fail "the report does not list the revised admissions period: $(cat "$IT_DIR/revisions.txt")"
# Its last two cells: revisions (one batch or two) and the 2 areas that came after the closure.
[ "$(tail -1 "$IT_DIR/revisions.txt")" = 2 ] && tail -2 "$IT_DIR/revisions.txt" | head -1 | grep -qx '[12]' ||
    it_fail "the revision does not say 2 areas revised: $(cat "$IT_DIR/revisions.txt")"
grep -q "rejected/</code> folder" "$quality" || it_fail "the report does not say where agents keep the rows they refuse"
if [ "$secure" = 1 ]; then
    section rejected-table >"$IT_DIR/rejected.txt"
    grep -qF "Bristol Drugs Partnership, City Council" "$IT_DIR/rejected.txt" &&
        grep -q "North Somerset.*is not one of this agent" "$IT_DIR/rejected.txt" ||
        it_fail "the report does not list Bristol's refused row by name with its reason: $(cat "$IT_DIR/rejected.txt")"
fi

it_stop hub
it_pass "queries, CSV round trip, report structure, findings, suppression, ODS, accessibility and PDF"
