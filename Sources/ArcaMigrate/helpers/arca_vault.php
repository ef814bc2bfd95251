<?php
// Vault lookups added by `arca migrate` (PHP standard library only).
//
// arca_secret($name) reads a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API,
// signing in as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, or with the
// certificate and private key in the PEM file AZURE_CLIENT_CERTIFICATE_PATH (RS256 client assertion; authority:
// AZURE_AUTHORITY_HOST, default the vault itself). ARCA_CA_CERT names a CA to trust. Values are cached for
// ARCA_SECRET_TTL seconds (default 300) within the process, and the access token until shortly before it expires.
// Each folder that migrate rewrote has a copy; the first one loaded defines the functions, the others return.

if (!function_exists('arca_secret')) {

final class ArcaVaultError extends RuntimeException {}

function arca_vault_env(string $name): ?string {
    $v = getenv($name);
    return ($v === false || $v === '') ? null : $v;
}

function arca_vault_call(string $url, array $http): array {
    $ssl = ['verify_peer' => true];
    if (arca_vault_env('ARCA_CA_CERT')) { $ssl['cafile'] = arca_vault_env('ARCA_CA_CERT'); }
    $http['ignore_errors'] = true;
    $http['timeout'] = 30;
    $where = explode('?', $url)[0];
    $body = @file_get_contents($url, false, stream_context_create(['http' => $http, 'ssl' => $ssl]));
    if ($body === false) { throw new ArcaVaultError("arca vault: cannot reach $where"); }
    preg_match('#^HTTP/\S+ (\d+)#', $http_response_header[0] ?? '', $m);
    $status = (int)($m[1] ?? 0);
    $answer = json_decode($body, true) ?: [];
    if ($status >= 300) {
        $message = $answer['error']['message'] ?? $body;
        throw new ArcaVaultError("arca vault: $where answered $status: $message");
    }
    return $answer;
}

// An RS256 client assertion for the certificate and private key in the PEM file $path.
function arca_vault_assertion(string $path, string $audience): string {
    $pem = @file_get_contents($path);
    $key = $pem === false ? false : openssl_pkey_get_private($pem);
    $fingerprint = $pem === false ? false : openssl_x509_fingerprint($pem, 'sha1', true);
    if ($key === false || $fingerprint === false) {
        throw new ArcaVaultError("arca vault: AZURE_CLIENT_CERTIFICATE_PATH $path needs a certificate and its private key (PEM)");
    }
    $b64 = fn(string $s): string => rtrim(strtr(base64_encode($s), '+/', '-_'), '=');
    $now = time();
    $id = arca_vault_env('AZURE_CLIENT_ID');
    $input = $b64(json_encode(['alg' => 'RS256', 'typ' => 'JWT', 'x5t' => $b64($fingerprint)])) . '.'
        . $b64(json_encode(['aud' => $audience, 'iss' => $id, 'sub' => $id, 'jti' => bin2hex(random_bytes(16)),
            'nbf' => $now, 'iat' => $now, 'exp' => $now + 600], JSON_UNESCAPED_SLASHES));
    openssl_sign($input, $signature, $key, OPENSSL_ALGO_SHA256);
    return $input . '.' . $b64($signature);
}

function arca_secret(string $name): string {
    static $cache = [], $token = null, $expires = 0;
    $ttl = (float)(arca_vault_env('ARCA_SECRET_TTL') ?? 300);
    if (isset($cache[$name]) && microtime(true) - $cache[$name][1] < $ttl) { return $cache[$name][0]; }
    $vault = rtrim(arca_vault_env('ARCA_VAULT_URL') ?? throw new ArcaVaultError('arca vault: ARCA_VAULT_URL is not set (see docs/migrate.md)'), '/');
    if ($token === null || $expires - time() < 60) {
        $missing = array_filter(['AZURE_TENANT_ID', 'AZURE_CLIENT_ID'], fn($n) => arca_vault_env($n) === null);
        if (arca_vault_env('AZURE_CLIENT_SECRET') === null && arca_vault_env('AZURE_CLIENT_CERTIFICATE_PATH') === null) {
            $missing[] = 'AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH';
        }
        if ($missing) { throw new ArcaVaultError('arca vault: ' . implode(', ', $missing) . " not set (the application's credentials)"); }
        $authority = rtrim(arca_vault_env('AZURE_AUTHORITY_HOST') ?? $vault, '/');
        $resource = rtrim(arca_vault_env('ARCA_VAULT_RESOURCE') ?? $vault, '/');
        $endpoint = "$authority/" . arca_vault_env('AZURE_TENANT_ID') . '/oauth2/v2.0/token';
        $form = ['grant_type' => 'client_credentials', 'client_id' => arca_vault_env('AZURE_CLIENT_ID'), 'scope' => "$resource/.default"];
        if (arca_vault_env('AZURE_CLIENT_SECRET') !== null) {
            $form['client_secret'] = arca_vault_env('AZURE_CLIENT_SECRET');
        } else {
            $form['client_assertion_type'] = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
            $form['client_assertion'] = arca_vault_assertion(arca_vault_env('AZURE_CLIENT_CERTIFICATE_PATH'), $endpoint);
        }
        $answer = arca_vault_call($endpoint, ['method' => 'POST', 'header' => 'Content-Type: application/x-www-form-urlencoded',
            'content' => http_build_query($form)]);
        $token = $answer['access_token'];
        $expires = time() + (int)($answer['expires_in'] ?? 3600);
    }
    $answer = arca_vault_call("$vault/secrets/" . rawurlencode($name) . '?api-version=7.5',
        ['method' => 'GET', 'header' => "Authorization: Bearer $token"]);
    $cache[$name] = [$answer['value'], microtime(true)];
    return $answer['value'];
}

}
