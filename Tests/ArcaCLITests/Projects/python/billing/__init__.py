"""Billing service: invoices, card charges and the nightly ledger."""
