import { createRequire as arcaRequire } from "node:module"; const arcaSecret: (name: string) => string = arcaRequire(import.meta.url)("./arca-vault.cjs").secret;
import { readFileSync } from "node:fs";

export const config = {
  stripeKey: arcaSecret("stripe-key"),
  dbUrl: `postgresql://svc_user:${arcaSecret("db-url")}@db.acme.internal:5432/${process.env.DB_NAME}`,
  token: arcaSecret("api-token"),
  ca: readFileSync("ca.pem"),
};
