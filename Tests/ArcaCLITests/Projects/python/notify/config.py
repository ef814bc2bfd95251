SMTP_HOST = "smtp.internal"
SMTP_PORT = 587
smtp_user = "receipts@billing.internal"
smtp_password = "{{SMTP_PASSWORD}}"
