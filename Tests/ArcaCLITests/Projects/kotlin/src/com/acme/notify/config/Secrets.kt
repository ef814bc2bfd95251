package com.acme.notify.config

object MailConfig {
    const val SMTP_HOST = "smtp.internal"
    const val SMTP_PORT = 587
    const val SMTP_USER = "alerts@acme.internal"
    const val SMTP_PASSWORD = "{{SMTP_PASSWORD}}"
}

val apiToken: String = "{{API_TOKEN}}"
