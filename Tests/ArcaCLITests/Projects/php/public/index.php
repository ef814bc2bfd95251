<?php

declare(strict_types=1);

require_once __DIR__ . '/../src/Config/Settings.php';
require_once __DIR__ . '/../src/Payments/StripeGateway.php';
require_once __DIR__ . '/../src/Mail/Mailer.php';

use Shop\Config\Settings;
use Shop\Mail\Mailer;
use Shop\Payments\StripeGateway;

$app = Settings::app()['app'];
$db = Settings::database();
$gateway = new StripeGateway();
$mailer = new Mailer();

echo "{$app['name']}: currency {$app['currency']}\n";
echo "database: {$db['dsn']} as {$db['user']} (password " . strlen($db['password']) . " chars)\n";
echo "stripe: {$gateway->mode()} key, {$gateway->keyLength()} chars, digest {$gateway->keyDigest()}\n";
echo $mailer->describe() . "\n";
echo 'fingerprint: ' . hash('sha256', implode("\n", [$db['password'], $gateway->apiKey(), $mailer->password()])) . "\n";
