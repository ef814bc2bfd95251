// Vault lookups added by `arca migrate --style azure-sdk`, through the official Azure SDK for JavaScript.
//
// secret(name) reads a secret from the Key Vault at AZURE_KEYVAULT_URL (else ARCA_VAULT_URL) with
// @azure/keyvault-secrets, signing in with DefaultAzureCredential (AZURE_TENANT_ID / AZURE_CLIENT_ID with
// AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, a managed identity, the Azure CLI…). The SDK is
// asynchronous and the code this replaces read a constant, so the first read of each secret runs this file as a
// child process. Values are cached for ARCA_SECRET_TTL seconds (default 300).
// Needs: npm install @azure/identity @azure/keyvault-secrets
"use strict";
const cache = new Map();

function secret(name) {
  const ttl = Number(process.env.ARCA_SECRET_TTL || "300") * 1000;
  const hit = cache.get(name);
  if (hit && Date.now() - hit.at < ttl) return hit.value;
  // The client secret reaches the child on its standard input, never in its environment or arguments.
  const env = { ...process.env, ARCA_VAULT_CREDENTIALS_ON_STDIN: "1" };
  delete env.AZURE_CLIENT_SECRET;
  const input = JSON.stringify({ clientSecret: process.env.AZURE_CLIENT_SECRET || "" });
  const r = require("node:child_process").spawnSync(process.execPath, [__filename, name], { encoding: "utf8", env, input });
  if (r.status !== 0) throw new Error("arca vault: " + (r.stderr || "lookup failed").trim());
  cache.set(name, { value: r.stdout, at: Date.now() });
  return r.stdout;
}

async function fetchSecret(name) {
  const { DefaultAzureCredential } = require("@azure/identity");
  const { SecretClient } = require("@azure/keyvault-secrets");
  const url = process.env.AZURE_KEYVAULT_URL || process.env.ARCA_VAULT_URL;
  if (!url) throw new Error("AZURE_KEYVAULT_URL is not set (the vault's URL)");
  return (await new SecretClient(url, new DefaultAzureCredential()).getSecret(name)).value;
}

module.exports = { secret, fetchSecret };

if (require.main === module) {
  if (process.env.ARCA_VAULT_CREDENTIALS_ON_STDIN === "1") {
    // DefaultAzureCredential reads the variable: set in this process only, after it started.
    try {
      const given = JSON.parse(require("node:fs").readFileSync(0, "utf8")).clientSecret;
      if (given) process.env.AZURE_CLIENT_SECRET = given;
    } catch (_) { /* none given */ }
  }
  fetchSecret(process.argv[2]).then((v) => process.stdout.write(v), (e) => {
    process.stderr.write(e.message + "\n");
    process.exit(1);
  });
}
