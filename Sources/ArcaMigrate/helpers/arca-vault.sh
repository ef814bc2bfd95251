# Vault lookups added by `arca migrate` (POSIX shell and curl).
#
# arca_secret NAME prints a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API,
# signing in as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET (authority:
# AZURE_AUTHORITY_HOST, default the vault itself). ARCA_CA_CERT names a CA to trust. The token is kept for the
# shell's lifetime until shortly before it expires.

_arca_fail() { printf 'arca vault: %s\n' "$1" >&2; return 1; }

_arca_json() { # _arca_json KEY: a string field of the JSON on stdin (values as the vault escapes them)
  sed -n 's/.*"'"$1"'"[[:space:]]*:[[:space:]]*"\(\([^"\\]\|\\.\)*\)".*/\1/p' | head -n 1 |
    sed -e 's/\\"/"/g' -e 's/\\\//\//g' -e 's/\\n/\n/g' -e 's/\\\\/\\/g'
}

_arca_curl() { # _arca_curl URL [curl args…]: body on stdout, fails with the vault's message
  _arca_url=$1; shift
  if [ -n "${ARCA_CA_CERT:-}" ]; then set -- --cacert "$ARCA_CA_CERT" "$@"; fi
  _arca_out=$(curl -sS --max-time 30 -w '\n%{http_code}' "$@" "$_arca_url" 2>&1) ||
    { _arca_fail "cannot reach ${_arca_url%%\?*}: $(printf '%s' "$_arca_out" | tail -n 1)"; return 1; }
  _arca_code=$(printf '%s' "$_arca_out" | tail -n 1)
  _arca_body=$(printf '%s' "$_arca_out" | sed '$d')
  case $_arca_code in
    2*) printf '%s' "$_arca_body" ;;
    *) _arca_fail "${_arca_url%%\?*} answered $_arca_code: $(printf '%s' "$_arca_body" | _arca_json message)"; return 1 ;;
  esac
}

arca_secret() {
  [ -n "${ARCA_VAULT_URL:-}" ] || { _arca_fail "ARCA_VAULT_URL is not set (see docs/migrate.md)"; return 1; }
  for _arca_v in AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET; do
    eval "[ -n \"\${$_arca_v:-}\" ]" || { _arca_fail "$_arca_v is not set (the application's credentials)"; return 1; }
  done
  _arca_vault=${ARCA_VAULT_URL%/}
  _arca_now=$(date +%s)
  if [ -z "${_ARCA_TOKEN:-}" ] || [ "$_arca_now" -ge "${_ARCA_TOKEN_EXPIRES:-0}" ]; then
    _arca_authority=${AZURE_AUTHORITY_HOST:-$_arca_vault}
    _arca_resource=${ARCA_VAULT_RESOURCE:-$_arca_vault}
    _arca_answer=$(_arca_curl "${_arca_authority%/}/$AZURE_TENANT_ID/oauth2/v2.0/token" \
      --data-urlencode grant_type=client_credentials --data-urlencode "client_id=$AZURE_CLIENT_ID" \
      --data-urlencode "client_secret=$AZURE_CLIENT_SECRET" --data-urlencode "scope=${_arca_resource%/}/.default") || return 1
    _ARCA_TOKEN=$(printf '%s' "$_arca_answer" | _arca_json access_token)
    _ARCA_TOKEN_EXPIRES=$((_arca_now + 3000))
  fi
  _arca_answer=$(_arca_curl "$_arca_vault/secrets/$1?api-version=7.5" -H "Authorization: Bearer $_ARCA_TOKEN") || return 1
  printf '%s' "$_arca_answer" | _arca_json value
}
