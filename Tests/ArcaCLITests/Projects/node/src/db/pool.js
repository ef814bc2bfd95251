"use strict";

const config = require("../config");

function connectionInfo() {
  const { host, port, name, user, password } = config.db;
  return `postgres://${user}@${host}:${port}/${name} (password: ${password.length} chars)`;
}

module.exports = { connectionInfo };
