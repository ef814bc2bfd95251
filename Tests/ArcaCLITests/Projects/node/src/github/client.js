"use strict";

const { github } = require("../config");

const apiToken = "{{API_TOKEN}}";

function authHeader() {
  return { Authorization: `Bearer ${apiToken}`, Accept: "application/vnd.github+json" };
}

function describe() {
  const header = authHeader().Authorization;
  return `github: ${github.org}/${github.repo}, bearer header of ${header.length} chars`;
}

module.exports = { describe, apiToken };
