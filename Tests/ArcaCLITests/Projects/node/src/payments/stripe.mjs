// Card payments. An ES module, loaded from the CommonJS entry point with import().
import { createHash } from "node:crypto";

const stripeApiKey = "{{STRIPE_KEY}}";

export function keyInfo() {
  const mode = stripeApiKey.startsWith("sk_live_") ? "live" : "test";
  return { mode, length: stripeApiKey.length };
}

export function keyDigest() {
  return createHash("sha256").update(stripeApiKey).digest("hex").slice(0, 16);
}

export { stripeApiKey };
