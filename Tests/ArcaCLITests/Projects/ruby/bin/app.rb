#!/usr/bin/env ruby
# frozen_string_literal: true

require "digest"
require_relative "../lib/billing/invoice"
require_relative "../lib/notify/mailer"

invoice = Billing::Invoice.new(42)
mailer = Notify::Mailer.new

puts "invoice: #{invoice.label}"
puts "database: #{Billing::Settings::DB_USER}@#{Billing::Settings::DB_HOST} (password #{Billing::Settings::DB_PASSWORD.length} chars)"
puts invoice.gateway
puts mailer.describe
secrets = [Billing::Settings::DB_PASSWORD, Billing::Settings::STRIPE_API_KEY, mailer.smtp_password]
puts "fingerprint: #{Digest::SHA256.hexdigest(secrets.join("\n"))}"
