package main

import (
	"fmt"
	"os"
)

const dbPassword = "hG7kq2Lm9xQ4zR"

var stripeKey = "sk_live_51Hq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7"

func main() {
	dsn := "postgresql://svc_user:zJrE-DjnM!OtWJKwHHSp@db.acme.internal:5432/orders"
	token := os.Getenv("GITHUB_TOKEN")
	fmt.Println(len(dbPassword), len(stripeKey), len(dsn), len(token), "sk_live_51Hq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7"[:7])
}
