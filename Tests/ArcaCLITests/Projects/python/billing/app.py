"""Entry point: python3 -m billing.app"""

import configparser
import hashlib
import os

from billing.settings import DB_PASSWORD, STRIPE_API_KEY, database_url
from notify.mailer import receipt_summary
from reports.export import export_target


def load_options():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(os.path.dirname(__file__), "..", "app.cfg"))
    return parser["billing"]


def fingerprint(*values):
    return hashlib.sha256("\n".join(values).encode("utf-8")).hexdigest()


def main():
    options = load_options()
    print(f"billing: currency={options['currency']} retries={options.getint('retries')}")
    print(f"database: {database_url()} (password: {len(DB_PASSWORD)} chars)")
    print(f"stripe: key of {len(STRIPE_API_KEY)} chars, live={STRIPE_API_KEY.startswith('sk_live_')}")
    print(receipt_summary())
    print(export_target())
    print("fingerprint:", fingerprint(DB_PASSWORD, STRIPE_API_KEY))


if __name__ == "__main__":
    main()
