package main

import (
	"fmt"
	"os"
)

var dbPassword = arcaSecret("db-password")

var stripeKey = arcaSecret("stripe-key")

func main() {
	dsn := arcaSecret("dsn")
	token := arcaSecret("github-token")
	fmt.Println(len(dbPassword), len(stripeKey), len(dsn), len(token), arcaSecret("stripe-key")[:7])
}
