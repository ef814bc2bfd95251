package com.acme.billing.payments;

import com.acme.billing.config.Settings;

public class PaymentGateway {
    private final String apiKey;

    public PaymentGateway() {
        this.apiKey = Settings.STRIPE_API_KEY;
    }

    public String mode() {
        return apiKey.startsWith("sk_live_") ? "live" : "test";
    }

    public int keyLength() {
        return apiKey.length();
    }
}
