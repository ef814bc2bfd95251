"use strict";

const path = require("path");
const fs = require("fs");

const defaults = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "config", "default.json"), "utf8"));

const dbPassword = "{{DB_PASSWORD}}";

module.exports = {
  region: defaults.region,
  db: { ...defaults.db, user: "shop_api", password: dbPassword },
  github: defaults.github,
};
