import hashlib

from . import config


def receipt_summary():
    digest = hashlib.sha256(config.smtp_password.encode("utf-8")).hexdigest()[:16]
    return (
        f"mailer: {config.smtp_user} via {config.SMTP_HOST}:{config.SMTP_PORT}, "
        f"password {len(config.smtp_password)} chars, digest {digest}"
    )
