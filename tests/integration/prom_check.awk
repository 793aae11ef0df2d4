# Checks a Prometheus text exposition (format 0.0.4) read on standard input, as a scraper
# parses it: every line a # HELP, a # TYPE or a sample; each family's HELP and TYPE once,
# before its samples; names and label names legal; label values quoted with only \\, \" and \n
# escapes; values numbers, NaN or +-Inf; counters named *_total. Prints each problem with its
# line number and exits 1 if there was any.
function bad(msg) { printf "line %d: %s: %s\n", NR, msg, $0; errors++ }
BEGIN {
    name_re = "^[a-zA-Z_:][a-zA-Z0-9_:]*$"
    value_re = "^([-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?|NaN|[-+]Inf)$"
}
/^# HELP / {
    n = $3
    if (n !~ name_re) bad("bad metric name")
    if (n in help) bad("second HELP for " n)
    if (n in sampled) bad("HELP after samples of " n)
    help[n] = 1
    next
}
/^# TYPE / {
    n = $3
    if (n in type) bad("second TYPE for " n)
    if (n in sampled) bad("TYPE after samples of " n)
    if ($4 !~ /^(counter|gauge|histogram|summary|untyped)$/ || NF != 4) bad("bad TYPE line")
    if ($4 == "counter" && n !~ /_total$/) bad("counter not named *_total")
    type[n] = $4
    next
}
/^#/ { next }
/^$/ { bad("empty line"); next }
{
    line = $0
    if (!match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) { bad("no metric name"); next }
    n = substr(line, 1, RLENGTH)
    rest = substr(line, RLENGTH + 1)
    if (substr(rest, 1, 1) == "{") {
        # label="value" pairs, values with \\ \" \n escapes only
        if (!match(rest, /^\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\[\\"n])*",?)*\}/)) {
            bad("bad labels")
            next
        }
        rest = substr(rest, RLENGTH + 1)
    }
    if (substr(rest, 1, 1) != " ") { bad("no space before the value"); next }
    split(substr(rest, 2), f, " ")
    if (f[1] !~ value_re) bad("bad value '" f[1] "'")
    if (!(n in type)) bad("sample of " n " before its TYPE")
    if (!(n in help)) bad("sample of " n " without HELP")
    sampled[n] = 1
    samples++
}
END {
    if (!samples) { print "no samples"; errors++ }
    exit errors ? 1 : 0
}
