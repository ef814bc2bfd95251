package com.acme.billing

object Config {
    const val DB_PASSWORD = "hG7kq2Lm9xQ4zR"
    val proxy = "https://deploy:GrMIscqI5fvl9r3G@proxy.acme.io:8080"
    val apiToken: String? = System.getenv("API_TOKEN")
}

fun banner(user: String) = "user=$user key=sk_live_51Hq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7"
