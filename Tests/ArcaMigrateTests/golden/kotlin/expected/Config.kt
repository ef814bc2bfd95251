package com.acme.billing

object Config {
    val DB_PASSWORD = ArcaVault.secret("db-password")
    val proxy = ArcaVault.secret("proxy")
    val apiToken: String? = ArcaVault.secret("api-token")
}

fun banner(user: String) = "user=$user key=${ArcaVault.secret("stripe-live-secret-key")}"
