require_relative "arca_vault"
require "json"

DB_PASSWORD = ArcaVault.secret('db-password')
STRIPE_KEY = ArcaVault.secret("stripe-key")
token = ArcaVault.secret("api-token")
puts "len=#{STRIPE_KEY.size} key=#{ArcaVault.secret("stripe-key")}"
