namespace Acme.Billing;

public static class Settings
{
    public const string DbPassword = "hG7kq2Lm9xQ4zR";
    public static readonly string StripeKey = "sk_live_51Hq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7";
    public static string Describe(string user) => $"user={user} key=sk_live_51Hq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7";
    public static string? Token => System.Environment.GetEnvironmentVariable("API_TOKEN");
}
