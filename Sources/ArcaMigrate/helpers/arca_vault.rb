# Vault lookups added by `arca migrate` (Ruby standard library only).
#
# ArcaVault.secret(name) reads a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API,
# signing in as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, or with the
# certificate and private key in the PEM file AZURE_CLIENT_CERTIFICATE_PATH (RS256 client assertion; authority:
# AZURE_AUTHORITY_HOST, default the vault itself). ARCA_CA_CERT names a CA to trust. Values are cached for
# ARCA_SECRET_TTL seconds (default 300) and the access token until shortly before it expires.
require "base64"
require "json"
require "securerandom"
require "net/http"
require "openssl"
require "uri"

module ArcaVault
  class Error < StandardError; end

  @cache = {}
  @token = nil
  @expires = Time.at(0)
  @lock = Mutex.new

  def self.env(name)
    v = ENV[name]
    v.nil? || v.empty? ? nil : v
  end

  def self.call(uri, request)
    http = Net::HTTP.new(uri.host, uri.port)
    http.use_ssl = uri.scheme == "https"
    http.ca_file = env("ARCA_CA_CERT") if env("ARCA_CA_CERT")
    http.open_timeout = http.read_timeout = 30
    where = "#{uri.scheme}://#{uri.host}:#{uri.port}#{uri.path}"
    begin
      res = http.request(request)
    rescue StandardError => e
      raise Error, "arca vault: cannot reach #{where}: #{e.message}"
    end
    answer = JSON.parse(res.body) rescue {}
    unless res.code.to_i < 300
      message = answer.is_a?(Hash) && answer["error"].is_a?(Hash) ? answer["error"]["message"] : res.body
      raise Error, "arca vault: #{where} answered #{res.code}: #{message}"
    end
    answer
  end

  # An RS256 client assertion for the certificate and private key in the PEM file +path+.
  def self.assertion(path, audience)
    pem = File.read(path)
    cert = OpenSSL::X509::Certificate.new(pem)
    key = OpenSSL::PKey.read(pem)
    b64 = ->(s) { Base64.urlsafe_encode64(s, padding: false) }
    now = Time.now.to_i
    id = env("AZURE_CLIENT_ID")
    header = { alg: "RS256", typ: "JWT", x5t: b64.call(OpenSSL::Digest::SHA1.digest(cert.to_der)) }
    claims = { aud: audience, iss: id, sub: id, jti: SecureRandom.uuid, nbf: now, iat: now, exp: now + 600 }
    input = "#{b64.call(header.to_json)}.#{b64.call(claims.to_json)}"
    "#{input}.#{b64.call(key.sign(OpenSSL::Digest.new('SHA256'), input))}"
  rescue SystemCallError, OpenSSL::OpenSSLError => e
    raise Error, "arca vault: cannot sign in with AZURE_CLIENT_CERTIFICATE_PATH #{path}: #{e.message}"
  end

  def self.secret(name)
    @lock.synchronize do
      ttl = (env("ARCA_SECRET_TTL") || "300").to_f
      hit = @cache[name]
      return hit[0] if hit && Time.now - hit[1] < ttl
      vault = env("ARCA_VAULT_URL") or raise Error, "arca vault: ARCA_VAULT_URL is not set (see docs/migrate.md)"
      vault = vault.chomp("/")
      if @token.nil? || @expires - Time.now < 60
        missing = %w[AZURE_TENANT_ID AZURE_CLIENT_ID].reject { |n| env(n) }
        missing << "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH" unless env("AZURE_CLIENT_SECRET") || env("AZURE_CLIENT_CERTIFICATE_PATH")
        raise Error, "arca vault: #{missing.join(', ')} not set (the application's credentials)" unless missing.empty?
        authority = (env("AZURE_AUTHORITY_HOST") || vault).chomp("/")
        resource = (env("ARCA_VAULT_RESOURCE") || vault).chomp("/")
        uri = URI("#{authority}/#{env('AZURE_TENANT_ID')}/oauth2/v2.0/token")
        req = Net::HTTP::Post.new(uri)
        form = { "grant_type" => "client_credentials", "client_id" => env("AZURE_CLIENT_ID"), "scope" => "#{resource}/.default" }
        if env("AZURE_CLIENT_SECRET")
          form["client_secret"] = env("AZURE_CLIENT_SECRET")
        else
          form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
          form["client_assertion"] = assertion(env("AZURE_CLIENT_CERTIFICATE_PATH"), uri.to_s)
        end
        req.set_form_data(form)
        answer = call(uri, req)
        @token = answer["access_token"]
        @expires = Time.now + (answer["expires_in"] || 3600).to_i
      end
      uri = URI("#{vault}/secrets/#{URI.encode_www_form_component(name)}?api-version=7.5")
      req = Net::HTTP::Get.new(uri)
      req["Authorization"] = "Bearer #{@token}"
      value = call(uri, req)["value"]
      @cache[name] = [value, Time.now]
      value
    end
  end
end
