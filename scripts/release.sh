#!/usr/bin/env bash
# Builds the release binary of Arca that runs on a machine without the Swift toolchain, and packs it.
#
#   bash scripts/release.sh
#
# - the version is Arca.version, read from Sources/arca/main.swift (never written here);
# - `swift build -c release --static-swift-stdlib --product arca --scratch-path .build-release`: the Swift
#   runtime and Foundation (with its own ICU data, _FoundationICU) are linked in; only system C libraries stay
#   dynamic;
# - the binary is stripped and packed, with README.md and DEBIAN-PACKAGES (the runtime packages, one
#   "package soname" a line, which scripts/install.sh installs when missing), into
#   dist/arca-VERSION-linux-ARCH.tar.gz (ARCH is `uname -m`: x86_64, aarch64), with
#   dist/arca-VERSION-linux-ARCH.tar.gz.sha256 (`sha256sum -c` format) next to it;
# - prints the binary's size, its `ldd` and the Debian package of each library, and checks that it starts
#   with the toolchain out of sight (`env -i PATH=/usr/bin:/bin`) and that no library comes from the toolchain.
#
# Runtime Debian packages of a build on Debian 12 (bookworm) — `dpkg -S` on the paths `ldd` prints; the build
# writes the real list into the tarball's DEBIAN-PACKAGES:
#   libgit2-1.5 libpcre2-8-0 libarchive13 libsqlite3-0 libstdc++6 libgcc-s1 libc6 zlib1g
# (libgit2-1.5 and libarchive13 bring their own dependencies: libssh2-1, libmbedtls14, libhttp-parser2.9,
# liblzma5, libzstd1, libxml2, …). A binary links a library's soname (libgit2.so.1.5), so it runs only where
# that soname exists: build the release on the oldest distribution it must run on, one tarball per soname set.
#
# Exit codes: 0 packed and checked; 1 the build, the packing or a check failed; 2 bad usage.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
case "${1:-}" in
    "") ;;
    -h|--help) usage; exit 0 ;;
    *) echo "release.sh: unknown argument '$1' (it takes none)" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

fail() { echo "release.sh: $*" >&2; exit 1; }

# Arca.version: `static let version = "X.Y.Z"` in the arca target.
version="$(sed -n 's/^[[:space:]]*static let version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' \
    Sources/arca/main.swift | head -n 1)"
[[ "$version" =~ ^[0-9A-Za-z][0-9A-Za-z.+-]*$ ]] ||
    fail "cannot read Arca.version from Sources/arca/main.swift (found '$version')"
arch="$(uname -m)"
name="arca-$version-linux-$arch"
scratch=.build-release
dist="$here/dist"

# shellcheck source=deps.sh
. scripts/deps.sh
arca_install_deps binutils

build=(swift build -c release --static-swift-stdlib --product arca --scratch-path "$scratch")
echo "release.sh: ${build[*]}" >&2
start=$SECONDS
"${build[@]}" >&2 || fail "the build failed"
echo "release.sh: built in $((SECONDS - start)) s" >&2
bin="$("${build[@]}" --show-bin-path)/arca"
[ -x "$bin" ] || fail "no binary at $bin"

stage="$dist/$name"
rm -rf "$stage" "$dist/$name.tar.gz" "$dist/$name.tar.gz.sha256"
mkdir -p "$stage"
cp "$bin" "$stage/arca"
strip "$stage/arca"
cp README.md "$stage/README.md"

# The libraries the binary loads, and the Debian package of each (dpkg knows the /usr path: merged /usr).
lddout="$(ldd "$stage/arca")" || fail "ldd failed on the binary"
if grep -q 'not found' <<<"$lddout"; then
    fail "libraries not found: $(grep 'not found' <<<"$lddout" | tr -s ' \t' ' ')"
fi
toolchain="$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")"   # /opt/swift/usr
toolchain="${toolchain%/usr}"
if grep -qF "$toolchain/" <<<"$lddout"; then
    fail "the binary still loads libraries from the toolchain ($toolchain): $(grep -F "$toolchain/" <<<"$lddout")"
fi
declare -A packageOf=()
while read -r soname arrow path _; do
    if [ "$arrow" != "=>" ]; then   # "/lib64/ld-linux-x86-64.so.2 (0x…)": the loader, by its path
        case "$soname" in /*) path="$soname"; soname="$(basename "$soname")" ;; *) continue ;; esac
    fi
    case "$path" in /*) ;; *) continue ;; esac
    resolved="$(readlink -f "$path")"
    pkg=""
    for candidate in "$resolved" "/usr$path" "$path"; do
        pkg="$(dpkg -S "$candidate" 2>/dev/null | head -n 1 | cut -d: -f1)" && [ -n "$pkg" ] && break
    done
    [ -n "$pkg" ] || fail "no Debian package owns $path ($soname)"
    packageOf[$soname]="$pkg"
done <<<"$lddout"
# Only the libraries the binary itself names (its NEEDED entries) go into DEBIAN-PACKAGES; apt brings the rest.
{
    echo "# Debian packages the arca binary needs at run time (package soname), from dpkg -S on its ldd paths."
    echo "# Built on $(. /etc/os-release && echo "$PRETTY_NAME") ($arch). scripts/install.sh installs the missing ones."
    readelf -d "$stage/arca" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | while read -r soname; do
        echo "${packageOf[$soname]:-?} $soname"
    done
} >"$stage/DEBIAN-PACKAGES"
if grep -q '^?' "$stage/DEBIAN-PACKAGES"; then fail "a NEEDED library has no package: $(grep '^?' "$stage/DEBIAN-PACKAGES")"; fi

# It starts with the toolchain out of sight.
helpOut="$(cd "$stage" && env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH= ./arca --help 2>&1)" ||
    fail "the binary does not start without the toolchain: $helpOut"
check="$(head -n 1 <<<"$helpOut")"
[ -n "$check" ] || fail "the binary printed nothing for --help without the toolchain"

epoch="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -C "$dist" -cf - "$name" |
    gzip -n -9 >"$dist/$name.tar.gz"
(cd "$dist" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")

size="$(stat -c %s "$stage/arca")"
echo "binary:   $stage/arca ($size bytes, $(numfmt --to=iec-i --suffix=B "$size"), stripped; unstripped $(stat -c %s "$bin") bytes)"
echo "version:  $version ($(env -i PATH=/usr/bin:/bin "$stage/arca" --version 2>&1 | head -n 1))"
echo "ldd:"
while read -r line; do echo "  $line"; done <<<"$lddout"
echo "runtime Debian packages (NEEDED):"
grep -v '^#' "$stage/DEBIAN-PACKAGES" | sed 's/^/  /'
echo "without the toolchain: $check"
echo "tarball:  $dist/$name.tar.gz ($(stat -c %s "$dist/$name.tar.gz") bytes)"
echo "sha256:   $(cat "$dist/$name.tar.gz.sha256")"
