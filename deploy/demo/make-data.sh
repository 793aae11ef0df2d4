#!/usr/bin/env bash
# Writes the demo's CSV drops, in the agent input format, from the reference areas and the ONS
# drug poisoning deaths. bash and awk only (mawk or gawk): python is not on a fresh Debian.
#
#   make-data.sh --out DIR [--areas FILE] [--deaths FILE]
#
# DIR/agents.txt     one agent a line: "ID --national" or "ID --areas CODE,CODE,..."
# DIR/ID/*.csv       that agent's drops
# DIR/partnerships.csv  the hub's --partnerships file (partnership,area_code,name): each agent's
#                    areas as one partnership with its id and display name (Greater Manchester's
#                    ten boroughs)
#
# National ONS agent: drug_misuse_deaths as pooled 3-year periods 2016-2018, 2017-2019 and
# 2018-2020 for all 153 areas, numerator the deaths summed over the three years and denominator
# 3 x the 2020 population (person-years). Partnership agents: continuity_of_care and
# numbers_in_treatment monthly for 2024-01..2024-06, with Blackpool made to underperform so that
# a "worse than England" alert fires, and a few bad rows in Bristol's drop to show quarantine.
# Each partnership also reports its milestones (DIR/ID/milestones.csv), Kent and Leeds late.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
areas="$root/proto/data/areas.csv"
deaths="$here/drug_poisoning_deaths.csv"
out=""

usage() { echo "usage: make-data.sh --out DIR [--areas FILE] [--deaths FILE]" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
    --out) out=${2:-}; shift 2 ;;
    --areas) areas=${2:-}; shift 2 ;;
    --deaths) deaths=${2:-}; shift 2 ;;
    -h | --help) usage ;;
    *) echo "make-data.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
[ -n "$out" ] || usage
for f in "$areas" "$deaths"; do
    [ -r "$f" ] || { echo "make-data.sh: cannot read $f" >&2; exit 1; }
done
mkdir -p "$out"

header="metric_id,area_code,period,numerator,denominator,value,note"

# Partnerships: id and areas. Greater Manchester's ten metropolitan boroughs form one.
partnerships=(
    "blackpool E06000009"
    "greater-manchester E08000001,E08000002,E08000003,E08000004,E08000005,E08000006,E08000007,E08000008,E08000009,E08000010"
    "leeds E08000035"
    "bristol E06000023"
    "hartlepool E06000001"
    "kent E10000016"
)

# Every area code used must be in the reference list: a typo here would only show as rejections.
for p in "${partnerships[@]}"; do
    for code in $(echo "${p#* }" | tr ',' ' '); do
        grep -q "^$code," "$areas" || { echo "make-data.sh: $code not in $areas" >&2; exit 1; }
    done
done

# --- national: pooled 3-year drug misuse deaths -------------------------------------------------
# areas.csv quotes names that hold commas ("Bournemouth, Christchurch and Poole"): only the first
# field (code) and the last (population) are read, and neither is ever quoted.
mkdir -p "$out/ons"
awk -F, -v header="$header" '
    FNR == 1 { next }
    FILENAME == ARGV[1] { pop[$1] = $NF; order[++n] = $1; next }
    { deaths[$1, $2] = $3 }
    END {
        print header
        for (first = 2016; first <= 2018; first++) {
            for (i = 1; i <= n; i++) {
                a = order[i]; sum = 0
                for (y = first; y < first + 3; y++) {
                    if (!((a, y) in deaths)) { print "no deaths for " a " " y > "/dev/stderr"; exit 1 }
                    sum += deaths[a, y]
                }
                printf "drug_misuse_deaths,%s,%d-%d,%d,%d,,ONS drug poisoning registrations\n",
                       a, first, first + 2, sum, 3 * pop[a]
            }
        }
    }' "$areas" "$deaths" >"$out/ons/drug_misuse_deaths_2016-2020.csv"
echo "ons --national" >"$out/agents.txt"

# The names people know the partnerships by (the partnerships file's optional name column, read
# by the report for its tables and findings).
declare -A names=(
    [blackpool]="Blackpool Combating Drugs Partnership"
    [greater-manchester]="Greater Manchester Combating Drugs Partnership"
    [leeds]="Leeds Combating Drugs Partnership"
    [bristol]="Bristol Combating Drugs Partnership"
    [hartlepool]="Hartlepool Combating Drugs Partnership"
    [kent]="Kent and Medway Combating Drugs Partnership"
)

# The hub's partnerships: the same list, so rows, compliance and the report name them alike. The
# name goes on a partnership's first row.
{
    echo "partnership,area_code,name"
    for p in "${partnerships[@]}"; do
        id=${p%% *} name=${names[${p%% *}]:-}
        for code in $(echo "${p#* }" | tr ',' ' '); do
            echo "$id,$code,$name"
            name=
        done
    done
} >"$out/partnerships.csv"

# --- partnerships: monthly continuity of care and numbers in treatment ---------------------------
# Variation comes from a Park-Miller generator seeded per area, not awk's rand(): its products
# stay below 2^53, so mawk and gawk give the same numbers on every machine.
for p in "${partnerships[@]}"; do
    id=${p%% *}
    codes=${p#* }
    mkdir -p "$out/$id"
    echo "$id --areas $codes" >>"$out/agents.txt"
    awk -F, -v header="$header" -v codes="$codes" -v id="$id" -v dir="$out/$id" '
        function rnd() { seed = (seed * 16807) % 2147483647; return seed / 2147483647 }
        FNR == 1 { next }
        { pop[$1] = $NF }
        END {
            ncodes = split(codes, code, ",")
            coc = dir "/continuity_of_care_2024-01_2024-06.csv"
            nit = dir "/numbers_in_treatment_2024-01_2024-06.csv"
            print header > coc
            print header > nit
            for (i = 1; i <= ncodes; i++) {
                a = code[i]
                seed = 0
                for (k = 1; k <= length(a); k++) seed = (seed * 31 + index("0123456789E", substr(a, k, 1))) % 2147483647
                seed = seed + 12345
                # Blackpool about 12%: far enough below England (about 45%) to be worst at 99.8%.
                rate = (a == "E06000009") ? 0.12 : 0.40 + 0.10 * rnd()
                treat = pop[a] / 190
                for (m = 1; m <= 6; m++) {
                    den = int(pop[a] / 2500 * (0.9 + 0.2 * rnd()) + 0.5)
                    num = int(den * (rate + 0.04 * (rnd() - 0.5)) + 0.5)
                    if (num < 0) num = 0
                    if (num > den) num = den
                    printf "continuity_of_care,%s,2024-%02d,%d,%d,,\n", a, m, num, den > coc
                    treat = treat * (0.995 + 0.015 * rnd())
                    printf "numbers_in_treatment,%s,2024-%02d,,,%d,\n", a, m, int(treat + 0.5) > nit
                }
            }
            if (id == "bristol") {
                # Deliberately bad rows: the agent quarantines them in rejected/ with a reason.
                print "continuity_of_care_typo,E06000023,2024-06,10,20,,unknown metric" > coc
                print "continuity_of_care,E06000023,2024-05,250,200,,numerator above denominator" > coc
                print "continuity_of_care,E06000022,2024-06,40,90,,Bath is not in this partnership" > coc
            }
        }' "$areas"
done

# --- partnerships: milestones -----------------------------------------------------------------
# Every partnership did its one-off deliverables in 2022. Progress reports (due 30 April 2023 and
# every 12 months): most on time; Leeds reported 2024's late and Kent has not reported since 2023,
# so the annual report for 2024/25 names Kent as overdue and Leeds as late.
for p in "${partnerships[@]}"; do
    id=${p%% *}
    case "$id" in
    leeds) reports="2023-04-25 2024-07-02" ;;
    kent) reports="2023-04-28" ;;
    *) reports="2023-04-20 2024-04-18" ;;
    esac
    {
        echo "milestone,partnership,date,ref,note"
        for m in sro_nominated partnership_formed footprint_confirmed; do echo "$m,$id,2022-07-15,,"; done
        for m in terms_of_reference needs_assessment delivery_plan performance_framework; do
            echo "$m,$id,2022-09-20,,"
        done
        for d in $reports; do echo "progress_report,$id,$d,https://example.org/$id/progress-$d,"; done
    } >"$out/$id/milestones.csv"
done
