# frozen_string_literal: true

require_relative "settings"

module Billing
  class Invoice
    def initialize(number)
      @number = number
    end

    def label
      "#{Settings.app.dig('billing', 'invoice_prefix')}-#{format('%05d', @number)} in #{Settings.app.dig('billing', 'currency')}"
    end

    def gateway
      mode = Settings::STRIPE_API_KEY.start_with?("sk_live_") ? "live" : "test"
      "stripe #{mode} key, #{Settings::STRIPE_API_KEY.length} chars"
    end
  end
end
