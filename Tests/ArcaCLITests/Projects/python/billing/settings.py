"""Settings for the billing service."""

DB_HOST = "db.internal"
DB_PORT = 5432
DB_USER = "billing_app"
DB_PASSWORD = "{{DB_PASSWORD}}"

STRIPE_API_KEY = "{{STRIPE_KEY}}"
STRIPE_API_VERSION = "2023-10-16"


def database_url():
    return f"postgresql://{DB_USER}@{DB_HOST}:{DB_PORT}/billing"
