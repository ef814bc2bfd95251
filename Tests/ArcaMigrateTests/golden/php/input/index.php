<?php
declare(strict_types=1);

$dbPassword = "hG7kq2Lm9xQ4zR";
$stripe = 'sk_live_51Hq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7';
$token = getenv('API_TOKEN');
echo "key: $token sk_live_51Hq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7\n";
