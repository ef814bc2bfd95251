#!/usr/bin/env bash
# The scan step of the GitHub Action (action.yml), runnable locally: scans what the triggering event adds,
# writes a SARIF report and prints a text report.
#
# What it scans, from $GITHUB_EVENT_NAME and the event payload at $GITHUB_EVENT_PATH:
#   pull_request, pull_request_target   BASE...HEAD with .pull_request.base.sha and .pull_request.head.sha
#   merge_group                         BASE...HEAD with .merge_group.base_sha and .merge_group.head_sha
#   push                                .before...after; a deleted branch (after all zeros) scans nothing.
#                                       A new branch (before all zeros) has no before: the newest N commits
#                                       of after, N = the number of commits the push brought
#                                       (len(.commits), at least 1) — what a history scan with
#                                       --max-count N checks against the parent of the oldest one, so a
#                                       secret the branch started from is not reported. The same when before
#                                       cannot be fetched (a force push that dropped it).
#   anything else (workflow_dispatch, schedule, …, or no event)   the whole history: arca scan --git
# A range scan reports only what the range adds (arca's A...B: against the merge base).
# A shallow clone (actions/checkout's default depth 1) lacks the base: the missing commits are fetched from
# $ARCA_REMOTE with `git fetch --no-tags --deepen=N` for N in $ARCA_DEEPEN until the merge base is there; if it
# never is, the script fails and says to set `fetch-depth: 0` on actions/checkout.
#
# Environment (the action's inputs):
#   ARCA              the arca binary (default: arca on PATH)
#   ARCA_SCAN_PATH    the repository to scan (default .)
#   ARCA_SCAN_ARGS    extra arguments to `arca scan`, split like a shell does (quotes honoured; no expansion);
#                     not --format or -o
#   ARCA_SARIF        the SARIF file to write (default arca.sarif)
#   ARCA_REMOTE       the remote to fetch missing history from (default origin)
#   ARCA_DEEPEN       the deepening steps, in commits (default "50 100 200 400 800 1600")
#   ARCA_ACTION_EXIT  1: exit with arca's exit code instead of 0
#   GITHUB_OUTPUT     when set, receives exit-code=N (arca's exit code) and sarif=FILE (when written)
#   GITHUB_ACTIONS    true: the repository is added to git's safe.directory (checkouts in containers belong
#                     to another user)
# Runs arca twice on the same commits: once for SARIF (-o ARCA_SARIF; its exit code is the result), once for
# the text report on standard output (-q). Reports are redacted as arca redacts them.
#
# Exit codes — the contract the action's last step relies on:
#   0  the scan ran; arca's exit code (0 clean, 1 secrets, 2 bad usage or configuration, 3 incomplete scan) is
#      in GITHUB_OUTPUT's exit-code and on the last line of standard output ("arca exit code: N")
#   N  with ARCA_ACTION_EXIT=1: arca's exit code itself
#   4  the scan could not run: the range's history cannot be fetched (the fetch-depth hint), the event
#      payload is missing or malformed, arca or git is missing, or the path is not a git repository
set -euo pipefail

say() { echo "arca-action: $*" >&2; }
die() { say "$*"; exit 4; }

arca="${ARCA:-arca}"
path="${ARCA_SCAN_PATH:-.}"
sarif="${ARCA_SARIF:-arca.sarif}"
remote="${ARCA_REMOTE:-origin}"
read -ra deepen_steps <<<"${ARCA_DEEPEN:-50 100 200 400 800 1600}"
event="${GITHUB_EVENT_NAME:-}"

command -v git >/dev/null 2>&1 || die "git is not installed"
command -v "$arca" >/dev/null 2>&1 || die "arca not found ('$arca'): install it first (scripts/install.sh) or set ARCA"
# Before any other git command: in a container the checkout belongs to another user, and git (and libgit2)
# refuse such a repository unless safe.directory names it.
if [ "${GITHUB_ACTIONS:-}" = "true" ] && [ -d "$path" ]; then
    top="$(git -C "$path" rev-parse --show-toplevel 2>/dev/null || (cd "$path" && pwd -P))"
    git config --global --get-all safe.directory 2>/dev/null | grep -qxF "$top" ||
        git config --global --add safe.directory "$top"
fi
git -C "$path" rev-parse --git-dir >/dev/null 2>&1 || die "$path is not a git repository (check out the code first)"

# ARCA_SCAN_ARGS as words: shlex when python3 is here, whitespace otherwise.
extra=()
if [ -n "${ARCA_SCAN_ARGS:-}" ]; then
    if command -v python3 >/dev/null 2>&1; then
        mapfile -d '' -t extra < <(python3 -c 'import shlex, sys
for word in shlex.split(sys.argv[1]): sys.stdout.write(word + "\0")' "$ARCA_SCAN_ARGS") ||
            die "cannot split ARCA_SCAN_ARGS: $ARCA_SCAN_ARGS"
    else
        read -ra extra <<<"$ARCA_SCAN_ARGS"
    fi
fi

# The report format and file are the action's: an --format or -o in args would corrupt the SARIF upload.
for word in "${extra[@]}"; do
    case "$word" in
        --format|--format=*|-o|--output|--output=*|-o*) die "args must not set the format or the output ('$word'): the action writes SARIF to the sarif input" ;;
    esac
done

# event_get KEY.KEY…: a string of the payload ("" when absent); `#KEY` the length of a list.
event_get() {
    if [ -z "${GITHUB_EVENT_PATH:-}" ] || [ ! -r "$GITHUB_EVENT_PATH" ]; then
        die "$event event without a readable payload (GITHUB_EVENT_PATH='${GITHUB_EVENT_PATH:-}')"
    fi
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json, sys
key = sys.argv[2]
count = key.startswith("#")
value = json.load(open(sys.argv[1], encoding="utf-8"))
for part in key.lstrip("#").split("."):
    value = value.get(part) if isinstance(value, dict) else None
if count:
    print(len(value) if isinstance(value, list) else 0)
elif isinstance(value, (str, int)) and not isinstance(value, bool):
    print(value)' "$GITHUB_EVENT_PATH" "$1" || die "cannot read $1 from $GITHUB_EVENT_PATH"
    elif command -v jq >/dev/null 2>&1; then
        case "$1" in
            \#*) jq -r ".${1#\#} | if type == \"array\" then length else 0 end" "$GITHUB_EVENT_PATH" ;;
            *) jq -r ".$1 | if type == \"string\" or type == \"number\" then . else empty end" "$GITHUB_EVENT_PATH" ;;
        esac || die "cannot read $1 from $GITHUB_EVENT_PATH"
    else
        die "reading the event payload needs python3 or jq"
    fi
}

sha() {   # validates an object id from the payload
    [[ "$2" =~ ^[0-9a-f]{40}([0-9a-f]{24})?$ ]] || die "$event event: $1 is not a commit id: '$2'"
    echo "$2"
}
zero() { [[ "$1" =~ ^0+$ ]]; }

have_commit() { git -C "$path" cat-file -e "$1^{commit}" 2>/dev/null; }
# shellcheck disable=SC2317  # have_merge_base and depth_at_least are called through fetch_until
have_merge_base() { have_commit "$1" && have_commit "$2" && git -C "$path" merge-base "$1" "$2" >/dev/null 2>&1; }
shallow() { [ "$(git -C "$path" rev-parse --is-shallow-repository 2>/dev/null)" = "true" ]; }

# fetch_until CHECK ARGS… -- COMMITS…: fetches COMMITS (deepening a shallow clone step by step) until
# `CHECK ARGS…` holds. 0 when it holds, 1 when the tries are spent or the remote cannot be reached.
fetch_until() {
    local check=() commits=()
    while [ "$1" != "--" ]; do check+=("$1"); shift; done
    shift
    commits=("$@")
    "${check[@]}" && return 0
    if ! shallow; then
        say "fetching ${commits[*]} from $remote"
        git -C "$path" fetch --no-tags --quiet "$remote" "${commits[@]}" >&2 || return 1
        "${check[@]}"
        return
    fi
    local step
    for step in "${deepen_steps[@]}"; do
        say "shallow clone: git fetch --no-tags --deepen=$step $remote ${commits[*]}"
        git -C "$path" fetch --no-tags --quiet --deepen="$step" "$remote" "${commits[@]}" >&2 || return 1
        "${check[@]}" && return 0
        shallow || return 1   # the whole history is here now, and still no luck
    done
    return 1
}
hint="set 'fetch-depth: 0' on actions/checkout (with: fetch-depth: 0) so the job has the history the scan needs"

# shellcheck disable=SC2317
depth_at_least() { [ "$(git -C "$path" rev-list --count "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }
new_commits() {   # newest N commits of $1, with the parent of the oldest when it exists
    local after="$1" n="$2"
    fetch_until have_commit "$after" -- "$after" || die "cannot fetch $after from $remote; $hint"
    # N commits and the parent of the oldest, unless the history is shorter (a first push).
    if shallow && ! fetch_until depth_at_least "$after" $((n + 1)) -- "$after"; then
        say "note: fewer than $((n + 1)) commits of $after could be fetched; scanning what there is"
    fi
    selection=(--branch "$after" --max-count "$n")
    describe="the newest $n commit(s) of $after"
}

selection=() describe=""
# The payload is checked here, in this shell: a failure inside $(event_get …) would only end that subshell.
case "$event" in
    pull_request|pull_request_target|merge_group|push)
        if [ -z "${GITHUB_EVENT_PATH:-}" ] || [ ! -r "$GITHUB_EVENT_PATH" ]; then
            die "$event event without a readable payload (GITHUB_EVENT_PATH='${GITHUB_EVENT_PATH:-}')"
        fi
        if command -v python3 >/dev/null 2>&1; then
            python3 -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$GITHUB_EVENT_PATH" 2>/dev/null ||
                die "the $event payload at $GITHUB_EVENT_PATH is not JSON"
        elif command -v jq >/dev/null 2>&1; then
            jq -e . "$GITHUB_EVENT_PATH" >/dev/null 2>&1 || die "the $event payload at $GITHUB_EVENT_PATH is not JSON"
        else
            die "reading the event payload needs python3 or jq"
        fi
        ;;
esac

case "$event" in
    pull_request|pull_request_target|merge_group)
        if [ "$event" = merge_group ]; then
            base="$(sha merge_group.base_sha "$(event_get merge_group.base_sha)")"
            head="$(sha merge_group.head_sha "$(event_get merge_group.head_sha)")"
        else
            base="$(sha pull_request.base.sha "$(event_get pull_request.base.sha)")"
            head="$(sha pull_request.head.sha "$(event_get pull_request.head.sha)")"
        fi
        fetch_until have_merge_base "$base" "$head" -- "$base" "$head" ||
            die "the merge base of $base (base) and $head (head) is not in this clone and could not be fetched from $remote; $hint"
        selection=(--range "$base...$head")
        describe="$event: $base...$head"
        ;;
    push)
        before="$(event_get before)"
        after="$(sha after "$(event_get after)")"
        if zero "$after"; then
            say "push deleted a branch: nothing to scan"
            [ -z "${GITHUB_OUTPUT:-}" ] || echo "exit-code=0" >>"$GITHUB_OUTPUT"
            echo "arca exit code: 0"
            exit 0
        fi
        count="$(event_get '#commits')"
        [ "$count" -ge 1 ] 2>/dev/null || count=1
        if [ -z "$before" ] || zero "$before"; then
            new_commits "$after" "$count"
            describe="push of a new branch: $describe"
        else
            before="$(sha before "$before")"
            if fetch_until have_merge_base "$before" "$after" -- "$before" "$after"; then
                selection=(--range "$before...$after")
                describe="push: $before...$after"
            elif have_commit "$after" && ! git -C "$path" ls-remote --exit-code "$remote" >/dev/null 2>&1; then
                die "cannot reach $remote to fetch $before; $hint"
            else
                say "the merge base of $before and $after cannot be fetched (a force push?): scanning the pushed commits"
                new_commits "$after" "$count"
                describe="push: $describe"
            fi
        fi
        ;;
    *)
        describe="${event:-no event}: the whole history"
        if shallow; then say "note: shallow clone: only the fetched history is scanned; $hint"; fi
        ;;
esac

say "scanning $describe"
rm -f "$sarif"   # never leave an old report behind as this run's
status=0
"$arca" scan --git "${selection[@]}" --format sarif -o "$sarif" "${extra[@]}" "$path" || status=$?
# The text report: the same commits again, findings only (the SARIF run printed the warnings).
"$arca" scan --git "${selection[@]}" --format text -q "${extra[@]}" "$path" || true

if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "exit-code=$status" >>"$GITHUB_OUTPUT"
    if [ -f "$sarif" ]; then echo "sarif=$sarif" >>"$GITHUB_OUTPUT"; fi
fi
if [ -f "$sarif" ]; then say "SARIF report: $sarif"; else say "no SARIF report was written"; fi
echo "arca exit code: $status"
if [ "${ARCA_ACTION_EXIT:-0}" = "1" ]; then exit "$status"; fi
exit 0
