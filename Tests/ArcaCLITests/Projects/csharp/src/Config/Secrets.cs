namespace Acme.Billing.Config
{
    public static class Secrets
    {
        public const string DbUser = "billing_svc";
        public const string DbPassword = "{{DB_PASSWORD}}";

        public static readonly string StripeApiKey = "{{STRIPE_KEY}}";
    }
}
