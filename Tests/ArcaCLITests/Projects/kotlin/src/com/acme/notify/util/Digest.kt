package com.acme.notify.util

import java.security.MessageDigest

fun sha256Hex(vararg values: String): String =
    MessageDigest.getInstance("SHA-256")
        .digest(values.joinToString("\n").toByteArray(Charsets.UTF_8))
        .joinToString("") { "%02x".format(it) }
