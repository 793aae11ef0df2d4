# A structural check of an HTML5 document (no external validator: Debian packages only): a
# doctype first; every non-void element closed in order; no stray "<" in text; ids unique; every
# in-page link "#id" has its target; one html, head, title and body. Prints each problem with the
# line it is on and exits non-zero when there is one.
#   awk -f html_check.awk FILE
BEGIN {
    RS = "<"
    split("area base br col embed hr img input link meta source track wbr", v, " ")
    for (i in v) void[v[i]] = 1
    depth = 0; bad = 0; line = 1
}
function problem(msg) { printf "html_check: line %d: %s\n", line, msg; bad = 1 }
NR == 1 {
    if ($0 !~ /^[ \t\r\n]*$/) problem("text before the doctype")
    line += gsub(/\n/, "\n"); next
}
{
    rec = $0
    if (NR == 2 && tolower(substr(rec, 1, 14)) != "!doctype html>") problem("no <!DOCTYPE html> first")
    end = index(rec, ">")
    if (end == 0) { problem("'<' in text or an unclosed tag"); line += gsub(/\n/, "\n", rec); next }
    tag = substr(rec, 1, end - 1)
    if (substr(tag, 1, 1) == "!") { line += gsub(/\n/, "\n", rec); next }
    if (match(tag, /^\/?[A-Za-z][A-Za-z0-9]*/) == 0) problem("malformed tag <" substr(tag, 1, 20))
    name = tolower(substr(tag, 1, RLENGTH))
    if (substr(name, 1, 1) == "/") {
        name = substr(name, 2)
        if (depth == 0 || stack[depth] != name)
            problem("</" name "> closes <" (depth ? stack[depth] : "nothing") ">")
        else depth--
    } else {
        count[name]++
        if (!(name in void) && substr(tag, length(tag), 1) != "/") stack[++depth] = name
        rest = tag
        while (match(rest, /id="[^"]*"/)) {
            id = substr(rest, RSTART + 4, RLENGTH - 5)
            if (substr(rest, RSTART - 1, 1) ~ /[ \t\n]/) { if (id in ids) problem("id '" id "' twice"); ids[id] = 1 }
            rest = substr(rest, RSTART + RLENGTH)
        }
        rest = tag
        while (match(rest, /href="#[^"]*"/)) { links[substr(rest, RSTART + 7, RLENGTH - 8)] = line; rest = substr(rest, RSTART + RLENGTH) }
    }
    if (name == "style" || name == "script") {
        # Their text may hold '<' only as part of a closing tag: this checker does not parse CSS.
    }
    line += gsub(/\n/, "\n", rec)
}
END {
    if (depth) problem(depth " element(s) left open, innermost <" stack[depth] ">")
    split("html head title body", once, " ")
    for (i in once) if (count[once[i]] != 1) problem("<" once[i] "> appears " count[once[i]] + 0 " times")
    for (l in links) if (!(l in ids)) problem("link to #" l " has no target")
    exit bad
}
