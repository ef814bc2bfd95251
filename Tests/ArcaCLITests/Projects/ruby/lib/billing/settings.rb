# frozen_string_literal: true

require "yaml"

module Billing
  module Settings
    DB_HOST = "db.internal"
    DB_USER = "billing"
    DB_PASSWORD = "{{DB_PASSWORD}}"

    STRIPE_API_KEY = '{{STRIPE_KEY}}'

    def self.app
      @app ||= YAML.safe_load(File.read(File.expand_path("../../config/app.yml", __dir__)))
    end
  end
end
