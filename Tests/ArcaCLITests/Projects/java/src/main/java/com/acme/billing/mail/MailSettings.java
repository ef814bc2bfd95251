package com.acme.billing.mail;

public class MailSettings {
    static final String SMTP_HOST = "smtp.internal";
    static final int SMTP_PORT = 587;
    static final String SMTP_USER = "receipts@billing.internal";

    private final String smtpPassword = "{{SMTP_PASSWORD}}";

    public String describe() {
        return "mail: " + SMTP_USER + " via " + SMTP_HOST + ":" + SMTP_PORT
                + ", password " + smtpPassword.length() + " chars";
    }

    public String password() {
        return smtpPassword;
    }
}
