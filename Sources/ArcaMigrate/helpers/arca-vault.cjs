// Vault lookups added by `arca migrate` (Node.js standard library only).
//
// secret(name) reads a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API, signing
// in as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, or with the certificate
// and private key in the PEM file AZURE_CLIENT_CERTIFICATE_PATH (RS256 client assertion; authority:
// AZURE_AUTHORITY_HOST, default the vault itself). ARCA_CA_CERT names a CA to trust. The call is synchronous
// (the code it replaces read a constant): it runs this file as a child process. Values are cached for
// ARCA_SECRET_TTL seconds (default 300).
"use strict";
const cache = new Map();

function fail(message) {
  const e = new Error("arca vault: " + message);
  e.name = "VaultError";
  throw e;
}

function secret(name) {
  const ttl = Number(process.env.ARCA_SECRET_TTL || "300") * 1000;
  const hit = cache.get(name);
  if (hit && Date.now() - hit.at < ttl) return hit.value;
  const { spawnSync } = require("node:child_process");
  // The child signs in itself: the client secret reaches it on its standard input, never in its environment or
  // arguments (which other local users and child processes could read).
  const env = { ...process.env, ARCA_VAULT_CREDENTIALS_ON_STDIN: "1" };
  delete env.AZURE_CLIENT_SECRET;
  const input = JSON.stringify({ clientSecret: process.env.AZURE_CLIENT_SECRET || "" });
  const r = spawnSync(process.execPath, [__filename, name], { encoding: "utf8", env, input });
  if (r.status !== 0) fail((r.stderr || "lookup failed").trim().replace(/^arca vault: /, ""));
  cache.set(name, { value: r.stdout, at: Date.now() });
  return r.stdout;
}

// An RS256 client assertion for the certificate (and private key) in the PEM file at `path`.
function assertion(path, audience) {
  const crypto = require("node:crypto");
  let pem;
  try { pem = require("node:fs").readFileSync(path, "utf8"); } catch (e) {
    fail("cannot read AZURE_CLIENT_CERTIFICATE_PATH " + path + ": " + e.message);
  }
  const b64 = (b) => Buffer.from(b).toString("base64url");
  const cert = new crypto.X509Certificate(pem);
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: "RS256", typ: "JWT", x5t: b64(crypto.createHash("sha1").update(cert.raw).digest()) };
  const id = process.env.AZURE_CLIENT_ID;
  const claims = { aud: audience, iss: id, sub: id, jti: crypto.randomUUID(), nbf: now, iat: now, exp: now + 600 };
  const input = b64(JSON.stringify(header)) + "." + b64(JSON.stringify(claims));
  return input + "." + b64(crypto.sign("sha256", Buffer.from(input), crypto.createPrivateKey(pem)));
}

async function fetchSecret(name, clientSecret = process.env.AZURE_CLIENT_SECRET) {
  const https = require("node:https");
  const fs = require("node:fs");
  const vault = (process.env.ARCA_VAULT_URL || fail("ARCA_VAULT_URL is not set (see docs/migrate.md)")).replace(/\/$/, "");
  const missing = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID"].filter((n) => !process.env[n]);
  if (!clientSecret && !process.env.AZURE_CLIENT_CERTIFICATE_PATH) {
    missing.push("AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH");
  }
  if (missing.length) fail(missing.join(", ") + " not set (the application's credentials)");
  const ca = process.env.ARCA_CA_CERT ? fs.readFileSync(process.env.ARCA_CA_CERT) : undefined;
  const request = (url, body, headers) =>
    new Promise((resolve, reject) => {
      const req = https.request(url, { method: body ? "POST" : "GET", headers, ca, timeout: 30000 }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => {
          let json = {};
          try { json = JSON.parse(text); } catch (_) { /* not JSON */ }
          if (res.statusCode >= 300) {
            const m = (json.error && json.error.message) || json.error_description || text;
            reject(new Error(url.split("?")[0] + " answered " + res.statusCode + ": " + m));
          } else resolve(json);
        });
      });
      req.on("error", (e) => reject(new Error("cannot reach " + url.split("?")[0] + ": " + e.message)));
      req.on("timeout", () => req.destroy(new Error("timed out")));
      if (body) req.write(body);
      req.end();
    });
  const authority = (process.env.AZURE_AUTHORITY_HOST || vault).replace(/\/$/, "");
  const resource = (process.env.ARCA_VAULT_RESOURCE || vault).replace(/\/$/, "");
  const endpoint = authority + "/" + process.env.AZURE_TENANT_ID + "/oauth2/v2.0/token";
  const fields = { grant_type: "client_credentials", client_id: process.env.AZURE_CLIENT_ID, scope: resource + "/.default" };
  if (clientSecret) {
    fields.client_secret = clientSecret;
  } else {
    fields.client_assertion_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    fields.client_assertion = assertion(process.env.AZURE_CLIENT_CERTIFICATE_PATH, endpoint);
  }
  const token = await request(endpoint, new URLSearchParams(fields).toString(),
    { "Content-Type": "application/x-www-form-urlencoded" });
  const answer = await request(vault + "/secrets/" + encodeURIComponent(name) + "?api-version=7.5", null,
    { Authorization: "Bearer " + token.access_token });
  return answer.value;
}

module.exports = { secret, fetchSecret };

if (require.main === module) {
  let clientSecret = process.env.AZURE_CLIENT_SECRET;
  if (process.env.ARCA_VAULT_CREDENTIALS_ON_STDIN === "1") {
    try { clientSecret = JSON.parse(require("node:fs").readFileSync(0, "utf8")).clientSecret; } catch (_) { /* none given */ }
  }
  fetchSecret(process.argv[2], clientSecret).then(
    (v) => process.stdout.write(v),
    (e) => { process.stderr.write("arca vault: " + e.message.replace(/^arca vault: /, "") + "\n"); process.exit(1); });
}
