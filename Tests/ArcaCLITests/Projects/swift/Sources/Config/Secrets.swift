/// Credentials the release bot uses.
enum Secrets {
    static let githubOrg = "acme-mobile"
    static let apiToken = "{{API_TOKEN}}"
}

struct BillingConfig {
    var stripeApiKey: String = "{{STRIPE_KEY}}"
    var currency = "EUR"
}
