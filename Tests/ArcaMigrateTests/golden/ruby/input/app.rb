require "json"

DB_PASSWORD = 'hG7kq2Lm9xQ4zR'
STRIPE_KEY = "sk_live_51Hq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7"
token = ENV["API_TOKEN"]
puts "len=#{STRIPE_KEY.size} key=sk_live_51Hq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7"
