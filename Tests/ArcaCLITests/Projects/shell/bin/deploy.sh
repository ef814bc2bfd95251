#!/usr/bin/env bash
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
. "$script_dir/../lib/common.sh"
# shellcheck source=../config/deploy.conf
. "$script_dir/../config/deploy.conf"

API_TOKEN="{{API_TOKEN}}"

auth_header="Authorization: token ${API_TOKEN}"

log "deploying to ${DEPLOY_ENV} (${DEPLOY_REGION}, channel ${RELEASE_CHANNEL})"
log "database: $(db_describe)"
log "github: header of ${#auth_header} chars"
log "fingerprint: $(fingerprint "$DB_PASSWORD" "$API_TOKEN")"

sh "$script_dir/notify.sh" "$DEPLOY_ENV"
