<?php

declare(strict_types=1);

namespace Shop\Payments;

require_once __DIR__ . '/../Config/Settings.php';

final class StripeGateway
{
    private string $stripeApiKey;

    public function __construct()
    {
        $stripeApiKey = '{{STRIPE_KEY}}';
        $this->stripeApiKey = $stripeApiKey;
    }

    public function mode(): string
    {
        return str_starts_with($this->stripeApiKey, 'sk_live_') ? 'live' : 'test';
    }

    public function keyLength(): int
    {
        return strlen($this->stripeApiKey);
    }

    public function keyDigest(): string
    {
        return substr(hash('sha256', $this->stripeApiKey), 0, 16);
    }

    public function apiKey(): string
    {
        return $this->stripeApiKey;
    }
}
