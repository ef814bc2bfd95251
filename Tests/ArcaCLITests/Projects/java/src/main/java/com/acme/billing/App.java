package com.acme.billing;

import com.acme.billing.config.Settings;
import com.acme.billing.mail.MailSettings;
import com.acme.billing.payments.PaymentGateway;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Properties;

public class App {
    static String sha256(String... values) throws NoSuchAlgorithmException {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        byte[] hash = md.digest(String.join("\n", values).getBytes(StandardCharsets.UTF_8));
        StringBuilder hex = new StringBuilder();
        for (byte b : hash) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }

    public static void main(String[] args) throws Exception {
        Properties app = Settings.application();
        PaymentGateway gateway = new PaymentGateway();
        MailSettings mail = new MailSettings();

        System.out.println("billing: currency=" + app.getProperty("billing.currency")
                + " pool=" + app.getProperty("db.pool.size"));
        System.out.println("database: " + Settings.DB_URL + " as " + Settings.DB_USER
                + " (password " + Settings.DB_PASSWORD.length() + " chars)");
        System.out.println("stripe: " + gateway.mode() + " key, " + gateway.keyLength() + " chars");
        System.out.println(mail.describe());
        System.out.println("fingerprint: " + sha256(Settings.DB_PASSWORD, Settings.STRIPE_API_KEY, mail.password()));
    }
}
