using Acme.Billing.Config;

namespace Acme.Billing.Payments
{
    public class StripeClient
    {
        private readonly string apiKey;

        public StripeClient() : this(Secrets.StripeApiKey) { }

        public StripeClient(string apiKey)
        {
            this.apiKey = apiKey;
        }

        public string Mode => apiKey.StartsWith("sk_live_") ? "live" : "test";

        public int KeyLength => apiKey.Length;
    }
}
