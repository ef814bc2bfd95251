import { readFileSync } from "node:fs";

export const config = {
  stripeKey: "sk_live_51Hq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7",
  dbUrl: `postgresql://svc_user:Xq7pL2mN9vR4tW8z@db.acme.internal:5432/${process.env.DB_NAME}`,
  token: process.env.API_TOKEN,
  ca: readFileSync("ca.pem"),
};
