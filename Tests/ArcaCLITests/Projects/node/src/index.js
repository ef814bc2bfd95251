"use strict";

const config = require("./config");
const { connectionInfo } = require("./db/pool");
const github = require("./github/client");
const { fingerprint } = require("./util/digest");

async function main() {
  const stripe = await import("./payments/stripe.mjs");
  const key = stripe.keyInfo();
  console.log(`shop-backend in ${config.region}`);
  console.log(`db: ${connectionInfo()}`);
  console.log(github.describe());
  console.log(`stripe: ${key.mode} key, ${key.length} chars, digest ${stripe.keyDigest()}`);
  console.log(`fingerprint: ${fingerprint(config.db.password, github.apiToken, stripe.stripeApiKey)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
