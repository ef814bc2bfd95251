#!/usr/bin/env bash
# Installs the arca binary from a release tarball (what CI jobs copy; the GitHub Action runs it).
#
#   install.sh [--version V] [--archive FILE_OR_URL] [--from-source] [--prefix DIR] [--no-deps]
#
#   --version V        the release to install (default: Arca.version of the checkout this script sits in)
#   --archive X        a release tarball: a local file, or an http(s):// or file:// URL (default: the GitHub
#                      release https://github.com/arca-security/arca/releases/download/vV/arca-V-linux-ARCH.tar.gz,
#                      ARCH = `uname -m`)
#   --from-source      build the tarball with scripts/release.sh from the checkout this script sits in (needs
#                      the Swift toolchain; release.sh installs the -dev packages it builds against)
#   --prefix DIR       install DIR/bin/arca (default /usr/local as root, ~/.local otherwise)
#   --no-deps          never run apt-get (the libraries must already be there)
#
# Checksums: the tarball's .sha256 (`sha256sum` format, next to it: X.sha256) is verified when it exists; for
# the default GitHub download it must exist.
# Runtime libraries: the tarball's DEBIAN-PACKAGES names the Debian package of each library the binary links
# (written by release.sh; libgit2-1.5 libpcre2-8-0 libarchive13 libsqlite3-0 … for a Debian 12 build). The
# ones `ldd` does not find are installed with apt-get when running as root (or with passwordless sudo);
# otherwise, or when this distribution has no such package, install.sh fails and names them. A package
# renamed by the 64-bit time_t transition (libarchive13 → libarchive13t64) is found under its new name.
# On GitHub Actions ($GITHUB_PATH set), DIR/bin is added to the job's PATH and `path=` written to
# $GITHUB_OUTPUT.
# Prints the installed path and `arca --version` on standard output; progress goes to standard error.
#
# Exit codes: 0 installed and runs; 1 download, checksum, library, build or install failure; 2 bad usage.
set -euo pipefail

self="${BASH_SOURCE[0]:-$0}"   # $0 when piped into bash
here="$(cd "$(dirname "$self")/.." && pwd)"
repo_url="https://github.com/arca-security/arca"

say() { echo "install.sh: $*" >&2; }
fail() { say "$*"; exit 1; }
usage_error() { say "$*"; say "usage: install.sh [--version V] [--archive FILE_OR_URL] [--from-source] [--prefix DIR] [--no-deps]"; exit 2; }

version="" archive="" from_source=0 prefix="" deps=1
while [ $# -gt 0 ]; do
    case "$1" in
        --version) [ $# -ge 2 ] || usage_error "--version needs a value"; version="$2"; shift 2 ;;
        --version=*) version="${1#*=}"; shift ;;
        --archive) [ $# -ge 2 ] || usage_error "--archive needs a value"; archive="$2"; shift 2 ;;
        --archive=*) archive="${1#*=}"; shift ;;
        --prefix) [ $# -ge 2 ] || usage_error "--prefix needs a value"; prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#*=}"; shift ;;
        --from-source) from_source=1; shift ;;
        --no-deps) deps=0; shift ;;
        -h|--help)
            if [ -f "$self" ]; then sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$self"
            else say "usage: install.sh [--version V] [--archive FILE_OR_URL] [--from-source] [--prefix DIR] [--no-deps]"; fi
            exit 0 ;;
        *) usage_error "unknown argument '$1'" ;;
    esac
done
[ "$from_source" -eq 0 ] || [ -z "$archive" ] || usage_error "--archive and --from-source cannot be combined"
[ -z "$version" ] || [[ "$version" =~ ^v?[0-9A-Za-z][0-9A-Za-z.+-]*$ ]] || usage_error "not a version: '$version'"
version="${version#v}"

if [ "$(id -u)" -eq 0 ]; then root=1; else root=0; fi
if [ -z "$prefix" ]; then
    if [ "$root" -eq 1 ]; then prefix=/usr/local; else prefix="${HOME:?HOME is not set}/.local"; fi
fi

source_version() {
    # Outside a checkout there is no main.swift: print nothing (the caller says --version is needed).
    [ -f "$here/Sources/arca/main.swift" ] || return 0
    sed -n 's/^[[:space:]]*static let version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' \
        "$here/Sources/arca/main.swift" 2>/dev/null | head -n 1 || true
}

tmp="$(mktemp -d "${TMPDIR:-/tmp}/arca-install.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# fetch URL FILE: 0 fetched, 1 not there or failed.
fetch() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 --proto '=https,http,file' -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        case "$1" in file://*) cp "${1#file://}" "$2" ;; *) wget -q -O "$2" "$1" ;; esac
    else
        fail "neither curl nor wget is installed: cannot download $1"
    fi
}

checksum_required=0
if [ "$from_source" -eq 1 ]; then
    if [ ! -f "$here/Package.swift" ] || [ ! -f "$here/scripts/release.sh" ]; then
        fail "--from-source needs the Arca checkout around this script ($here has no Package.swift)"
    fi
    src="$(source_version)"
    [ -z "$version" ] || [ "$version" = "$src" ] ||
        usage_error "--version $version but the checkout at $here is version $src"
    say "building from source in $here (scripts/release.sh)"
    bash "$here/scripts/release.sh" >&2 || fail "scripts/release.sh failed"
    archive="$here/dist/arca-$src-linux-$(uname -m).tar.gz"
    version="$src"
elif [ -z "$archive" ]; then
    [ -n "$version" ] || version="$(source_version)"
    [ -n "$version" ] || usage_error "--version is needed (this script is not inside an Arca checkout)"
    archive="$repo_url/releases/download/v$version/arca-$version-linux-$(uname -m).tar.gz"
    checksum_required=1
fi

# The tarball and its checksum, into $tmp.
tarball="$tmp/arca.tar.gz"
case "$archive" in
    http://*|https://*|file://*)
        say "downloading $archive"
        fetch "$archive" "$tarball" || fail "cannot download $archive"
        if fetch "$archive.sha256" "$tmp/arca.tar.gz.sha256" 2>/dev/null; then have_sum=1; else have_sum=0; fi
        ;;
    *)
        [ -f "$archive" ] || fail "no such archive: $archive"
        cp "$archive" "$tarball"
        if [ -f "$archive.sha256" ]; then cp "$archive.sha256" "$tmp/arca.tar.gz.sha256"; have_sum=1; else have_sum=0; fi
        ;;
esac
if [ "$have_sum" -eq 1 ]; then
    expected="$(awk 'NR == 1 { print tolower($1) }' "$tmp/arca.tar.gz.sha256")"
    actual="$(sha256sum "$tarball" | awk '{ print $1 }')"
    [[ "$expected" =~ ^[0-9a-f]{64}$ ]] || fail "$archive.sha256 holds no SHA-256"
    [ "$expected" = "$actual" ] || fail "checksum mismatch for $archive: expected $expected, got $actual"
    say "checksum verified ($actual)"
elif [ "$checksum_required" -eq 1 ]; then
    fail "no checksum at $archive.sha256: refusing an unverified download"
else
    say "warning: no $archive.sha256: the archive is not verified"
fi

mkdir "$tmp/x"
tar -xzf "$tarball" -C "$tmp/x" || fail "$archive is not a gzip tarball"
bin="$(find "$tmp/x" -maxdepth 2 -type f -name arca | head -n 1)"
[ -n "$bin" ] || fail "$archive holds no arca binary"
# A release tarball's folder names its version: --version and --archive must agree.
packed="$(basename "$(dirname "$bin")")"
if [ -n "$version" ] && [[ "$packed" == arca-*-linux-* ]] && [[ "$packed" != "arca-$version-linux-"* ]]; then
    fail "--version $version but $archive holds $packed"
fi
packages_file="$(dirname "$bin")/DEBIAN-PACKAGES"

# The libraries the binary needs and cannot find, and the Debian package of each.
missing_sonames() { { ldd "$bin" 2>/dev/null || true; } | awk '/=> not found/ { print $1 }'; }
package_for() {
    local soname="$1" pkg=""
    if [ -f "$packages_file" ]; then
        pkg="$(awk -v s="$soname" '$1 !~ /^#/ && $2 == s { print $1; exit }' "$packages_file")"
    fi
    if [ -z "$pkg" ]; then   # a tarball without DEBIAN-PACKAGES: the Debian 12 names
        case "$soname" in
            libgit2.so.1.5) pkg=libgit2-1.5 ;;
            libpcre2-8.so.0) pkg=libpcre2-8-0 ;;
            libarchive.so.13) pkg=libarchive13 ;;
            libsqlite3.so.0) pkg=libsqlite3-0 ;;
            libstdc++.so.6) pkg=libstdc++6 ;;
            libgcc_s.so.1) pkg=libgcc-s1 ;;
            libz.so.1) pkg=zlib1g ;;
            libc.so.6|libm.so.6) pkg=libc6 ;;
        esac
    fi
    echo "$pkg"
}
candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '^(none)$' | head -n 1; }

mapfile -t missing < <(missing_sonames)
if [ ${#missing[@]} -gt 0 ]; then
    packages=()
    for soname in "${missing[@]}"; do
        pkg="$(package_for "$soname")"
        [ -n "$pkg" ] || fail "arca needs $soname, which no known Debian package provides"
        packages+=("$pkg")
    done
    mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
    needs="${missing[*]} (Debian packages: ${packages[*]})"
    [ "$deps" -eq 1 ] || fail "arca needs $needs and --no-deps forbids apt-get: install them first"
    command -v apt-get >/dev/null 2>&1 || fail "arca needs $needs, and there is no apt-get here: install them first"
    sudo=()
    if [ "$root" -eq 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n); else
            fail "arca needs $needs: run install.sh as root, or first: sudo apt-get install ${packages[*]}"
        fi
    fi
    say "installing ${packages[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || fail "apt-get update failed"
    resolved=()
    for pkg in "${packages[@]}"; do
        if [ -n "$(candidate "$pkg")" ]; then resolved+=("$pkg")
        elif [ -n "$(candidate "${pkg}t64")" ]; then resolved+=("${pkg}t64")
        else
            fail "this system ($(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")) has no package $pkg" \
                "(see $packages_file's build system): use a release built for it, or --from-source"
        fi
    done
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${resolved[@]}" >&2 ||
        fail "apt-get install ${resolved[*]} failed"
    mapfile -t still < <(missing_sonames)
    [ ${#still[@]} -eq 0 ] || fail "still missing after apt-get: ${still[*]}"
fi

mkdir -p "$prefix/bin" || fail "cannot create $prefix/bin"
dest="$prefix/bin/arca"
install -m 0755 "$bin" "$dest.new.$$" || fail "cannot write $prefix/bin"
mv -f "$dest.new.$$" "$dest" || { rm -f "$dest.new.$$"; fail "cannot replace $dest"; }

if out="$("$dest" --version 2>&1)" && [ -n "$out" ]; then :
elif out="$("$dest" version 2>&1)" && [ -n "$out" ]; then :
elif out="$("$dest" --help 2>&1)"; then out="$(head -n 1 <<<"$out")"
else fail "the installed $dest does not run: $out"
fi
if [ -n "${GITHUB_PATH:-}" ]; then echo "$prefix/bin" >>"$GITHUB_PATH"; fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "path=$dest" >>"$GITHUB_OUTPUT"; fi
case ":$PATH:" in *":$prefix/bin:"*) ;; *) [ -n "${GITHUB_PATH:-}" ] || say "note: $prefix/bin is not on PATH" ;; esac
echo "installed: $dest"
echo "$out"
