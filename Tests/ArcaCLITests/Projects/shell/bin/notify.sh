#!/bin/sh
# Posts the deploy notice and records it in the releases table. POSIX sh.
set -u

env_name="${1:-unknown}"

smtp_host="smtp.internal"
smtp_user="deploys@acme.internal"
smtp_password="{{SMTP_PASSWORD}}"
db_password="{{DB_PASSWORD}}"

digest=$(printf '%s' "$smtp_password" | sha256sum | cut -c1-16)
echo "[notify] ${env_name}: mail as ${smtp_user} via ${smtp_host}, password ${#smtp_password} chars, digest ${digest}"
echo "[notify] releases table login: ${#db_password} chars"
