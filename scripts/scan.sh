#!/usr/bin/env bash
# The main job: install what Arca needs, build it (release), and scan a directory (default: the current one).
#   bash scripts/scan.sh [arca scan options] [PATH]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=deps.sh
. "$here/scripts/deps.sh"
arca_install_deps
swift build -c release --package-path "$here" --product arca >&2
exec "$here/.build/release/arca" scan "$@"
