#!/usr/bin/env bash
# Stored comparisons end to end: a dataset for all 153 areas goes through two agents and the hub,
# later months before earlier ones (so stored trends and rolling windows must be revised as the
# earlier data arrives), and the rows the hub stored, read back with cdof-query, must equal
# those compare_direct computes straight from the dataset with cdof_compare (no store, no
# network). Then `cdof-hub rebuild --check` must find the incremental rows equal to a full
# rebuild, and must find a difference when the partnerships are taken away.
#
#   test_stored_comparisons.sh --hub P --agent P --query P --refdir DIR
#   (CDOF_COMPARE_DIRECT: the compare_direct program)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init stored_comparisons "$@"
direct=${CDOF_COMPARE_DIRECT:-}
[ -x "$direct" ] || it_fail "CDOF_COMPARE_DIRECT does not name the compare_direct program"
refdir=${IT_REFDIR:?--refdir is required}
deaths="$(dirname "${BASH_SOURCE[0]}")/../../deploy/demo/drug_poisoning_deaths.csv"

read -r p_ingest p_alerts p_query < <(it_free_ports 3) || true
[ -n "${p_query:-}" ] || it_fail "could not pick free ports"
ingest="tcp://127.0.0.1:$p_ingest"
query="tcp://127.0.0.1:$p_query"

# --- the dataset -------------------------------------------------------------------------------
# continuity_of_care (proportion, high is good) and numbers_in_treatment (count) for every area,
# January 2023 to June 2024 (counts from January 2022); drug_misuse_deaths as single calendar
# years 2016-2020 (the hub builds the pooled periods), except Hartlepool, which sends its
# 2018-2020 pooled figure itself.
# In 2024 every seventh area falls 4 points a month and every eleventh rises: trends to find.
gm=E08000001,E08000002,E08000003,E08000004,E08000005,E08000006,E08000007,E08000008,E08000009,E08000010
header="metric_id,area_code,period,numerator,denominator,value,note"
awk -F, -v gm="$gm" -v out="$IT_DIR" -v header="$header" -v deaths="$deaths" '
    BEGIN { n = split(gm, g, ","); for (i = 1; i <= n; i++) ingm[g[i]] = 1
            while ((getline line < deaths) > 0) { split(line, d, ","); dead[d[1] "," d[2]] = d[3] }
            for (f = 0; f < 4; f++) print header > (out "/drop" f ".csv") }
    NR == 1 { next }
    {
        code = $1; pop = $NF; k++
        den = int(pop / 2500) + 20
        base = 0.40 + (k % 13) * 0.01
        slope = (k % 7 == 0) ? -0.04 : (k % 11 == 0) ? 0.04 : 0
        for (m = 0; m < 18; m++) {
            y = 2023 + int(m / 12); mo = m % 12 + 1
            period = sprintf("%d-%02d", y, mo)
            rate = base + slope * (m > 11 ? m - 11 : 0) + ((k * 7 + m * 3) % 5 - 2) * 0.002
            num = int(den * rate + 0.5)
            treat = int(pop / 400 * (1 + (y - 2023) * (k % 5) * 0.05)) + m
            # drop0/1: the national agent (2024 first, then 2023); drop2/3: Greater Manchester.
            f = (code in ingm ? 2 : 0) + (y == 2023 ? 1 : 0)
            printf "continuity_of_care,%s,%s,%d,%d,,\n", code, period, num, den > (out "/drop" f ".csv")
            printf "numbers_in_treatment,%s,%s,,,%d,\n", code, period, treat > (out "/drop" f ".csv")
        }
        # 2022 counts too, sent with 2023 after 2024 was compared: 2023 is first computed as the
        # baseline of 2022, and 2024, compared before either, must follow (three years).
        for (m = 0; m < 12; m++)
            printf "numbers_in_treatment,%s,2022-%02d,,,%d,\n", code, m + 1,
                int(pop / 400 * 0.9) + m > (out "/drop" ((code in ingm ? 2 : 0) + 1) ".csv")
        for (y = 2016; y <= 2020; y++)
            if ((code "," y) in dead && code != "E06000001")
                printf "drug_misuse_deaths,%s,%d,%d,%d,,\n", code, y, dead[code "," y], pop > (out "/drop1.csv")
        if (code == "E06000001")
            printf "drug_misuse_deaths,%s,2018-2020,%d,%d,,\n", code,
                dead[code ",2018"] + dead[code ",2019"] + dead[code ",2020"], 3 * pop > (out "/drop1.csv")
    }' "$refdir/areas.csv"
cat "$IT_DIR"/drop0.csv "$IT_DIR"/drop1.csv "$IT_DIR"/drop2.csv "$IT_DIR"/drop3.csv |
    grep -v '^metric_id' | { echo "$header"; cat; } >"$IT_DIR/all.csv"
rows=$(($(wc -l <"$IT_DIR/all.csv") - 1))
{
    echo "partnership,area_code"
    for c in ${gm//,/ }; do echo "greater-manchester,$c"; done
} >"$IT_DIR/partnerships.csv"

# --- through agents and hub --------------------------------------------------------------------
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "tcp://127.0.0.1:$p_alerts" \
    --query "$query" --partnerships "$IT_DIR/partnerships.csv" $(it_sec hub hub)
for p in "$p_ingest" "$p_query"; do
    it_wait "hub listening on port $p" 20 it_listening "$p"
done
mkdir -p "$IT_DIR/ons" "$IT_DIR/gm"
it_start ons "$IT_AGENT" --id ons --hub "$ingest" --spool "$IT_DIR/ons/spool" \
    --data "$IT_DIR/ons/data" --national $(it_sec national ons)
# Its registry line names the partnership and no areas: they come from --partnerships.
it_start gm "$IT_AGENT" --id greater-manchester --hub "$ingest" --spool "$IT_DIR/gm/spool" \
    --data "$IT_DIR/gm/data" --areas "$gm" $(it_sec partnership greater-manchester)

drained() { # ID: the agent's outbox is empty and its drop is done
    "$IT_AGENT" status --data "$IT_DIR/$1/data" --format json >"$IT_DIR/$1.status" 2>/dev/null &&
        grep -Eq '"outbox_depth": *0([^0-9]|$)' "$IT_DIR/$1.status" &&
        [ -z "$(ls -A "$IT_DIR/$1/spool/in")" ]
}
# Later months first, then the earlier ones.
it_drop "$IT_DIR/ons/spool" "$IT_DIR/drop0.csv"
it_drop "$IT_DIR/gm/spool" "$IT_DIR/drop2.csv"
both_drained() { drained ons && drained gm; }
it_wait "2024 drops delivered" 60 both_drained
it_wait "2024 comparisons settled" 60 it_settled "$query" $(it_sec jcdu query)
it_drop "$IT_DIR/ons/spool" "$IT_DIR/drop1.csv"
it_drop "$IT_DIR/gm/spool" "$IT_DIR/drop3.csv"
it_wait "2023 drops delivered" 60 both_drained
# Stored comparisons follow acknowledged data once it has settled (--settle-ms).
it_wait "comparisons settled" 60 it_settled "$query" $(it_sec jcdu query)
for a in ons gm; do
    if ls "$IT_DIR/$a/spool/rejected/"*.errors.csv >/dev/null 2>&1; then
        it_fail "agent $a rejected rows: $(cat "$IT_DIR/$a/spool/rejected/"*.errors.csv)"
    fi
done

# --- stored rows against compare_direct --------------------------------------------------------
# same ROWS_FROM_HUB DIRECT: every area's row present in both with equal verdicts, trend and
# partnership, and numbers equal within 1e-9 (relative above 1).
same() {
    awk '
        '"$IT_AWK_SPLIT_CSV"'
        NR == FNR { split_csv($0, w); if (FNR == 1) { for (i in w) dc[w[i]] = i; next }
                    n++; want[w[1]] = $0; next }
        { split_csv($0, h) }
        FNR == 1 { for (i in h) hc[h[i]] = i; next }
        { got[h[1]] = $0 }
        END {
            split("value lower_95 upper_95 lower_99_8 upper_99_8 quintile", nums, " ")
            split("vs_england vs_region trend worse_and_getting_worse partnership vs_baseline vs_trajectory", words, " ")
            for (a in want) {
                if (!(a in got)) { print "missing " a; bad++; continue }
                split("", w); split("", h); split_csv(want[a], w); split_csv(got[a], h)
                for (k in nums) { c = nums[k]; x = w[dc[c]]; y = h[hc[c]]
                    if ((x == "") != (y == "")) { print a " " c ": " y " want " x; bad++; continue }
                    d = x - y; if (d < 0) d = -d; s = x < 0 ? -x : x
                    if (x != "" && d > 1e-9 * (s > 1 ? s : 1)) { print a " " c ": " y " want " x; bad++ } }
                for (k in words) { c = words[k]
                    if (w[dc[c]] != h[hc[c]]) { print a " " c ": " h[hc[c]] " want " w[dc[c]]; bad++ } }
            }
            if (n < 150) { print "only " n " rows"; bad++ }
            exit bad ? 1 : 0
        }' "$2" "$1"
}
check() { # NAME QUERY-ARGS... -- DIRECT-ARGS...
    local name=$1 q=() d=()
    shift
    while [ "$1" != -- ]; do q+=("$1"); shift; done
    shift
    d=("$@")
    it_query "$IT_DIR/$name.hub.csv" --hub "$query" $(it_sec jcdu query) --format csv \
        --page-size 1000 "${q[@]}" || it_fail "cdof-query ${q[*]} failed: $(tail -3 "$IT_DIR/logs/query.log")"
    "$direct" --refdir "$refdir" --partnerships "$IT_DIR/partnerships.csv" "${d[@]}" \
        >"$IT_DIR/$name.direct.csv" || it_fail "compare_direct ${d[*]} failed"
    same "$IT_DIR/$name.hub.csv" "$IT_DIR/$name.direct.csv" >"$IT_DIR/$name.diff" ||
        it_fail "$name: stored rows differ from the direct computation: $(head -5 "$IT_DIR/$name.diff")"
}
check june league continuity_of_care 2024-06 -- "$IT_DIR/all.csv" continuity_of_care 2024-06
check march league continuity_of_care 2024-03 -- "$IT_DIR/all.csv" continuity_of_care 2024-03
check rolling rolling continuity_of_care 2024-06 -- --rolling "$IT_DIR/all.csv" continuity_of_care 2024-06
# The hub derives the trajectory from the commitment (a relative change over since..by, the
# last column); compare_direct is told the yearly rate worked out here: +20% from 2022-04-01 to
# 2025-03-31 is 3 years, 1.2^(1/3) - 1 a year. (since and by come before the quoted text.)
growth=$(awk -F, '$1 == "numbers_in_treatment" && $NF != "" {
    years = substr($7, 1, 4) - substr($6, 1, 4)
    printf "%.15g", 100 * ((1 + $NF / 100) ^ (1 / years) - 1) }' "$refdir/commitments.csv")
[ -n "$growth" ] || it_fail "no numbers_in_treatment change_percent in $refdir/commitments.csv"
check counts league numbers_in_treatment 2024-06 -- --trajectory "$growth" "$IT_DIR/all.csv" \
    numbers_in_treatment 2024-06
check pooled league drug_misuse_deaths 2018-2020 -- "$IT_DIR/all.csv" drug_misuse_deaths 2018-2020

# The data has what the comparison is for: falling areas worse than England and getting worse,
# rising ones, counts above last year, a partnership.
it_csv_has "$IT_DIR/june.hub.csv" 'f["worse_and_getting_worse"] == "true"' ||
    it_fail "no area is worse and getting worse in June 2024"
it_csv_has "$IT_DIR/june.hub.csv" 'f["trend"] == "increasing"' || it_fail "no rising trend found"
it_csv_has "$IT_DIR/june.hub.csv" 'f["area_code"] == "E08000003" && f["partnership"] == "greater-manchester"' ||
    it_fail "Manchester's row does not name its partnership"
it_csv_has "$IT_DIR/counts.hub.csv" 'f["vs_baseline"] == "best"' || it_fail "no count above last year's"
it_csv_has "$IT_DIR/counts.hub.csv" 'f["vs_trajectory"] == "worse"' ||
    it_fail "no count below the commitment's trajectory"
# The partnership's own row: the sum of its boroughs' counts.
gm_num=$(awk -F, -v gm=",$gm," '$1 == "continuity_of_care" && $3 == "2024-06" && index(gm, "," $2 ",") { s += $4 }
    END { print s }' "$IT_DIR/all.csv")
it_query "$IT_DIR/gm.hub.csv" --hub "$query" $(it_sec jcdu query) --format csv area greater-manchester 2024-06 ||
    it_fail "cdof-query area greater-manchester failed: $(tail -3 "$IT_DIR/logs/query.log")"
it_csv_has "$IT_DIR/gm.hub.csv" 'f["metric_id"] == "continuity_of_care" && f["numerator"] == '"$gm_num" ||
    it_fail "greater-manchester row is not the sum of its boroughs ($gm_num): $(cat "$IT_DIR/gm.hub.csv")"
it_csv_has "$IT_DIR/pooled.hub.csv" 'f["area_code"] == "E06000001" && f["value"] > 0' ||
    it_fail "Hartlepool's submitted pooled figure is missing"
# Milestone compliance lists the configured partnership although it never reported one (it owes
# every deliverable due), and no area of it on its own (none reported either).
it_query "$IT_DIR/ms.hub.csv" --hub "$query" $(it_sec jcdu query) --format csv milestones \
    --as-of 2025-03-31 || it_fail "cdof-query milestones failed: $(tail -3 "$IT_DIR/logs/query.log")"
it_csv_has "$IT_DIR/ms.hub.csv" 'f["partnership"] == "greater-manchester" && f["milestone_id"] == "progress_report" && f["status"] == "overdue"' ||
    it_fail "configured partnership missing from compliance: $(head -3 "$IT_DIR/ms.hub.csv")"
! it_csv_has "$IT_DIR/ms.hub.csv" 'f["partnership"] != "greater-manchester"' ||
    it_fail "compliance lists a partnership that is neither configured nor reporting"

# --- rebuild equals incremental ----------------------------------------------------------------
it_stop ons
it_stop gm
it_stop hub
"$IT_HUB" rebuild --check --data "$IT_DIR/hub" --partnerships "$IT_DIR/partnerships.csv" \
    >"$IT_DIR/check.out" 2>>"$IT_DIR/logs/rebuild.log" ||
    it_fail "rebuild --check: $(cat "$IT_DIR/check.out")"
grep -q '^equal: [0-9]* rows equal' "$IT_DIR/check.out" || it_fail "rebuild --check said: $(cat "$IT_DIR/check.out")"
# Without the partnerships the rows are not what was stored: the check can tell.
if "$IT_HUB" rebuild --check --data "$IT_DIR/hub" >"$IT_DIR/check2.out" 2>>"$IT_DIR/logs/rebuild.log"; then
    it_fail "rebuild --check without partnerships found no difference: $(cat "$IT_DIR/check2.out")"
fi
grep -q '^different: ' "$IT_DIR/check2.out" || it_fail "rebuild --check said: $(cat "$IT_DIR/check2.out")"
# A hub started without the partnerships its rows were computed with rebuilds them first: the
# partnership's row is gone, and the store then checks equal without partnerships.
# The agent's registry line takes its areas from the partnerships file, so it goes with them
# (a hub would refuse it, naming the line: test_keys).
if [ -e "$IT_DIR/keys/registry.csv" ]; then
    grep -v ',greater-manchester,partnership,' "$IT_DIR/keys/registry.csv" >"$IT_DIR/registry.tmp" || true
    mv "$IT_DIR/registry.tmp" "$IT_DIR/keys/registry.csv"
fi
it_start hub2 "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "tcp://127.0.0.1:$p_alerts" \
    --query "$query" $(it_sec hub hub)
it_wait "hub listening again on port $p_query" 30 it_listening "$p_query"
grep -q "other partnerships or commitments: rebuilding" "$IT_DIR/logs/hub2.log" ||
    it_fail "the hub did not rebuild for the changed partnerships: $(tail -5 "$IT_DIR/logs/hub2.log")"
if it_query "$IT_DIR/gm2.hub.csv" --hub "$query" $(it_sec jcdu query) --format csv \
    area greater-manchester 2024-06; then
    it_fail "greater-manchester still answers after the hub dropped it: $(cat "$IT_DIR/gm2.hub.csv")"
fi
it_stop hub2
"$IT_HUB" rebuild --check --data "$IT_DIR/hub" >"$IT_DIR/check3.out" 2>>"$IT_DIR/logs/rebuild.log" ||
    it_fail "rebuild --check after the restart: $(cat "$IT_DIR/check3.out")"
# A bad partnerships file is refused with the file, line and field named, whether the fault is
# in a value or in the CSV itself (read by common/cdof_csv).
refused() { # NAME CONTENT REASON
    printf '%b' "$2" >"$IT_DIR/$1"
    if "$IT_HUB" rebuild --data "$IT_DIR/hub" --partnerships "$IT_DIR/$1" >/dev/null \
        2>"$IT_DIR/$1.err"; then
        it_fail "rebuild accepted $1"
    fi
    grep -qF "$1:$3" "$IT_DIR/$1.err" ||
        it_fail "the error does not name file, line and field: $(cat "$IT_DIR/$1.err")"
}
refused bad-partnerships.csv 'partnership,area_code\ngm,E08000001\ngm,E99999999\n' \
    "3: field 'area_code': 'E99999999'"
refused bad2-partnerships.csv 'partnership,area_code\ngm,E08000001\ngm,E08000002"\n' \
    "3: field 2: quote inside an unquoted field"
it_pass "$rows rows through 2 agents; stored rows equal direct computation (5 tables); $(cat "$IT_DIR/check.out")"
