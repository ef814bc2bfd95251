# Vault lookups added by `arca migrate` (POSIX shell and curl).
#
# arca_secret NAME prints a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API,
# signing in as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, or with the
# certificate and private key in the PEM file AZURE_CLIENT_CERTIFICATE_PATH (RS256 client assertion made with
# openssl; authority: AZURE_AUTHORITY_HOST, default the vault itself). ARCA_CA_CERT names a CA to trust. Each
# lookup signs in again (it runs in a subshell). A failed lookup prints one message and returns 1; `arca migrate`
# writes each lookup so that this stops the script: `NAME="$(arca_secret name)" || exit 1`.

_arca_fail() { printf 'arca vault: %s\n' "$1" >&2; return 1; }

_arca_json() { # _arca_json KEY: a string field of the JSON on stdin (values as the vault escapes them)
  sed -n 's/.*"'"$1"'"[[:space:]]*:[[:space:]]*"\(\([^"\\]\|\\.\)*\)".*/\1/p' | head -n 1 |
    sed -e 's/\\"/"/g' -e 's/\\\//\//g' -e 's/\\n/\n/g' -e 's/\\\\/\\/g'
}

_arca_quote() { # _arca_quote TEXT: TEXT as a curl config string (backslashes and double quotes escaped)
  printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'
}

_arca_curl() { # _arca_curl URL CONFIG: body on stdout, fails with the vault's message. CONFIG (curl options,
  # credentials among them) goes to curl on its standard input, never on its command line.
  _arca_url=$1
  _arca_cfg="silent
show-error
max-time = 30
write-out = \"\\n%{http_code}\""
  if [ -n "${ARCA_CA_CERT:-}" ]; then _arca_cfg="$_arca_cfg
cacert = \"$(_arca_quote "$ARCA_CA_CERT")\""; fi
  _arca_out=$(printf '%s\n%s\n' "$_arca_cfg" "$2" | curl -q --config - "$_arca_url" 2>&1) ||
    { _arca_fail "cannot reach ${_arca_url%%\?*}: $(printf '%s' "$_arca_out" | tail -n 1)"; return 1; }
  _arca_code=$(printf '%s' "$_arca_out" | tail -n 1)
  _arca_body=$(printf '%s' "$_arca_out" | sed '$d')
  case $_arca_code in
    2*) printf '%s' "$_arca_body" ;;
    *) _arca_fail "${_arca_url%%\?*} answered $_arca_code: $(printf '%s' "$_arca_body" | _arca_json message)"; return 1 ;;
  esac
}

_arca_b64() { base64 | tr -d '\n=' | tr '/+' '_-'; }

_arca_assertion() { # _arca_assertion PEM AUDIENCE: an RS256 client assertion for the certificate in PEM
  [ -r "$1" ] || { _arca_fail "cannot read AZURE_CLIENT_CERTIFICATE_PATH $1"; return 1; }
  _arca_x5t=$(openssl x509 -in "$1" -outform der | openssl dgst -sha1 -binary | _arca_b64) ||
    { _arca_fail "$1 holds no certificate (needs the openssl program)"; return 1; }
  _arca_t=$(date +%s)
  _arca_in="$(printf '{"alg":"RS256","typ":"JWT","x5t":"%s"}' "$_arca_x5t" | _arca_b64).$(printf \
    '{"aud":"%s","iss":"%s","sub":"%s","jti":"%s","nbf":%s,"iat":%s,"exp":%s}' "$2" "$AZURE_CLIENT_ID" \
    "$AZURE_CLIENT_ID" "$(openssl rand -hex 16)" "$_arca_t" "$_arca_t" "$((_arca_t + 600))" | _arca_b64)"
  _arca_sig=$(printf '%s' "$_arca_in" | openssl dgst -sha256 -sign "$1" | _arca_b64) ||
    { _arca_fail "cannot sign with the key in $1"; return 1; }
  printf '%s.%s' "$_arca_in" "$_arca_sig"
}

# The lookup runs in a subshell: AZURE_CLIENT_SECRET is unset there (no child sees it), tracing (set -x) and
# exporting every assignment (set -a) are off, so neither the token nor the value is printed or passed on.
arca_secret() (
  set +x +a
  _arca_name=$1
  _arca_client_secret=${AZURE_CLIENT_SECRET:-}
  unset AZURE_CLIENT_SECRET 2>/dev/null
  # A read-only AZURE_CLIENT_SECRET (bash `readonly`) cannot be unset, and every child would see it: stop.
  [ -z "${AZURE_CLIENT_SECRET+set}" ] ||
    { _arca_fail "AZURE_CLIENT_SECRET is read-only here, so it cannot be kept from child processes"; return 1; }
  [ -n "${ARCA_VAULT_URL:-}" ] || { _arca_fail "ARCA_VAULT_URL is not set (see docs/migrate.md)"; return 1; }
  for _arca_v in AZURE_TENANT_ID AZURE_CLIENT_ID; do
    eval "[ -n \"\${$_arca_v:-}\" ]" || { _arca_fail "$_arca_v is not set (the application's credentials)"; return 1; }
  done
  [ -n "$_arca_client_secret${AZURE_CLIENT_CERTIFICATE_PATH:-}" ] ||
    { _arca_fail "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH is not set (the application's credentials)"; return 1; }
  _arca_vault=${ARCA_VAULT_URL%/}
  _arca_authority=${AZURE_AUTHORITY_HOST:-$_arca_vault}
  _arca_resource=${ARCA_VAULT_RESOURCE:-$_arca_vault}
  _arca_endpoint="${_arca_authority%/}/$AZURE_TENANT_ID/oauth2/v2.0/token"
  if [ -n "$_arca_client_secret" ]; then
    _arca_credential="data-urlencode = \"client_secret=$(_arca_quote "$_arca_client_secret")\""
  else
    _arca_jwt=$(_arca_assertion "$AZURE_CLIENT_CERTIFICATE_PATH" "$_arca_endpoint") || return 1
    _arca_credential="data-urlencode = \"client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer\"
data-urlencode = \"client_assertion=$_arca_jwt\""
  fi
  _arca_answer=$(_arca_curl "$_arca_endpoint" "data-urlencode = \"grant_type=client_credentials\"
data-urlencode = \"client_id=$(_arca_quote "$AZURE_CLIENT_ID")\"
data-urlencode = \"scope=$(_arca_quote "${_arca_resource%/}/.default")\"
$_arca_credential") || return 1
  _arca_token=$(printf '%s' "$_arca_answer" | _arca_json access_token)
  [ -n "$_arca_token" ] || { _arca_fail "$_arca_endpoint gave no access token"; return 1; }
  _arca_answer=$(_arca_curl "$_arca_vault/secrets/$_arca_name?api-version=7.5" \
    "header = \"Authorization: Bearer $(_arca_quote "$_arca_token")\"") || return 1
  printf '%s' "$_arca_answer" | _arca_json value
)
