#!/usr/bin/env bash
# Installs the system packages Arca builds against (libpcre2-dev, libgit2-dev, libarchive-dev, libsqlite3-dev, pkg-config) when
# missing.
# Sourced by scan.sh and test.sh. Needs root (or sudo) only when something is missing.
arca_install_deps() {
    local missing=()
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    pkg-config --exists libpcre2-8 2>/dev/null || missing+=(libpcre2-dev)
    pkg-config --exists libgit2 2>/dev/null || missing+=(libgit2-dev)
    pkg-config --exists libarchive 2>/dev/null || missing+=(libarchive-dev)
    pkg-config --exists sqlite3 2>/dev/null || missing+=(libsqlite3-dev)
    command -v git >/dev/null 2>&1 || missing+=(git)
    for extra in "$@"; do
        dpkg -s "$extra" >/dev/null 2>&1 || missing+=("$extra")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "arca: installing ${missing[*]}" >&2
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
    fi
}
