"use strict";

const crypto = require("crypto");

function fingerprint(...values) {
  return crypto.createHash("sha256").update(values.join("\n"), "utf8").digest("hex");
}

module.exports = { fingerprint };
