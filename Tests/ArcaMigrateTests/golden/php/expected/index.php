<?php
declare(strict_types=1);
require_once __DIR__ . "/arca_vault.php";

$dbPassword = arca_secret("db-password");
$stripe = arca_secret('stripe');
$token = arca_secret("api-token");
echo "key: $token " . arca_secret("stripe") . "\n";
