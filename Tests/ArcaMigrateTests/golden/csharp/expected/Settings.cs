namespace Acme.Billing;

public static class Settings
{
    public static readonly string DbPassword = ArcaVault.Secret("db-password");
    public static readonly string StripeKey = ArcaVault.Secret("stripe-key");
    public static string Describe(string user) => $"user={user} key={ArcaVault.Secret("stripe-key")}";
    public static string? Token => ArcaVault.Secret("api-token");
}
