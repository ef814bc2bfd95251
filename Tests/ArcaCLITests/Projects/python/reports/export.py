"""Nightly ledger export: connects to the same database with its own copy of the credentials."""

import hashlib

db_password = "{{DB_PASSWORD}}"


def export_target():
    digest = hashlib.sha256(db_password.encode("utf-8")).hexdigest()[:16]
    return f"export: ledger.csv via billing_app ({len(db_password)} chars, digest {digest})"
