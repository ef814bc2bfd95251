using System;
using System.Security.Cryptography;
using System.Text;
using Acme.Billing.Config;
using Acme.Billing.Notifications;
using Acme.Billing.Payments;

namespace Acme.Billing
{
    public static class Program
    {
        static string Sha256Hex(params string[] values)
        {
            using (var sha = SHA256.Create())
            {
                var hash = sha.ComputeHash(Encoding.UTF8.GetBytes(string.Join("\n", values)));
                var hex = new StringBuilder();
                foreach (var b in hash) hex.Append(b.ToString("x2"));
                return hex.ToString();
            }
        }

        public static int Main(string[] args)
        {
            var stripe = new StripeClient();
            var smtp = new SmtpSettings();
            Console.WriteLine("database: " + Secrets.DbUser + "@db.internal (password " + Secrets.DbPassword.Length + " chars)");
            Console.WriteLine("stripe: " + stripe.Mode + " key, " + stripe.KeyLength + " chars");
            Console.WriteLine("smtp: " + smtp.User + " via " + smtp.Host + ":" + smtp.Port + ", password " + smtp.PasswordLength + " chars");
            Console.WriteLine("fingerprint: " + Sha256Hex(Secrets.DbPassword, Secrets.StripeApiKey, smtp.Password));
            return 0;
        }
    }
}
