package com.acme.billing.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/** Connection settings for the billing service. */
public final class Settings {
    public static final String DB_URL = "jdbc:postgresql://db.internal:5432/billing";
    public static final String DB_USER = "billing_app";
    public static final String DB_PASSWORD = "{{DB_PASSWORD}}";

    public static final String STRIPE_API_KEY = "{{STRIPE_KEY}}";

    private Settings() {}

    /** Non-secret tuning from src/main/resources/application.properties. */
    public static Properties application() {
        Properties props = new Properties();
        try (InputStream in = Files.newInputStream(Path.of("src/main/resources/application.properties"))) {
            props.load(in);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read application.properties", e);
        }
        return props;
    }
}
