# Shared helpers for the deploy scripts. Sourced by bin/deploy.sh, never run on its own.

DB_HOST="db.internal"
DB_USER="deploy"
DB_PASSWORD="{{DB_PASSWORD}}"

log() {
  printf '[deploy] %s\n' "$*"
}

# fingerprint VALUE...: the SHA-256 of the values joined by newlines.
fingerprint() {
  local IFS=$'\n'
  printf '%s' "$*" | sha256sum | cut -d' ' -f1
}

db_describe() {
  printf 'postgres://%s@%s/releases (password %d chars)' "$DB_USER" "$DB_HOST" "${#DB_PASSWORD}"
}
