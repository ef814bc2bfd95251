#!/usr/bin/env bash
# Makes a throwaway SoftHSM2 token store in DIR for the tests: DIR/softhsm2.conf, tokens labelled
# "arca-test" (PIN 1234) and "other" (PIN 9999), and DIR/pin holding 1234. Prints the module's path.
# Exits 3 when SoftHSM2 is not installed (the test command installs it: apt softhsm2).
set -euo pipefail
dir=${1:?usage: softhsm-token.sh DIR}
module=""
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
         /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
    [ -f "$m" ] && { module=$m; break; }
done
if [ -z "$module" ] || ! command -v softhsm2-util >/dev/null 2>&1; then
    echo "softhsm-token.sh: SoftHSM2 is not installed" >&2
    exit 3
fi
mkdir -p "$dir/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir" > "$dir/softhsm2.conf"
export SOFTHSM2_CONF="$dir/softhsm2.conf"
softhsm2-util --init-token --free --label arca-test --pin 1234 --so-pin 5678 >/dev/null
softhsm2-util --init-token --free --label other --pin 9999 --so-pin 5678 >/dev/null
printf '1234\n' > "$dir/pin"
chmod 600 "$dir/pin"
echo "$module"
