# frozen_string_literal: true

require "digest"
require_relative "../billing/settings"

module Notify
  class Mailer
    def initialize
      @smtp_password = '{{SMTP_PASSWORD}}'
      @config = Billing::Settings.app.fetch("mailer")
    end

    attr_reader :smtp_password

    def describe
      "mailer: #{@config['host']}:#{@config['port']}, password #{@smtp_password.length} chars, " \
        "digest #{Digest::SHA256.hexdigest(@smtp_password)[0, 16]}"
    end
  end
end
