namespace Acme.Billing.Notifications
{
    public class SmtpSettings
    {
        public string Host { get; } = "smtp.internal";
        public int Port { get; } = 587;
        public string User { get; } = "invoices@acme.internal";

        private readonly string smtpPassword;

        public SmtpSettings()
        {
            smtpPassword = "{{SMTP_PASSWORD}}";
        }

        public int PasswordLength => smtpPassword.Length;

        public string Password => smtpPassword;
    }
}
