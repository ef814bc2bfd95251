package com.acme.notify

import com.acme.notify.config.MailConfig
import com.acme.notify.config.apiToken
import com.acme.notify.util.sha256Hex

fun main() {
    val header = "Bearer $apiToken"
    println("notify: ${MailConfig.SMTP_USER} via ${MailConfig.SMTP_HOST}:${MailConfig.SMTP_PORT}")
    println("smtp password: ${MailConfig.SMTP_PASSWORD.length} chars")
    println("github: authorization header of ${header.length} chars")
    println("fingerprint: ${sha256Hex(MailConfig.SMTP_PASSWORD, apiToken)}")
}
