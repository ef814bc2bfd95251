struct StripeClient {
    let config: BillingConfig

    init(config: BillingConfig = BillingConfig()) {
        self.config = config
    }

    var mode: String { config.stripeApiKey.hasPrefix("sk_live_") ? "live" : "test" }

    var keyLength: Int { config.stripeApiKey.utf8.count }
}
