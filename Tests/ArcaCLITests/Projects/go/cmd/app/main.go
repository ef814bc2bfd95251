package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"strings"

	"example.com/orders/internal/config"
	"example.com/orders/internal/jobs"
	"example.com/orders/internal/payments"
	"example.com/orders/internal/store"
)

func main() {
	app, err := config.Load("configs/app.json")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stripe := payments.New()
	fmt.Printf("%s listening on %s\n", app.Service, app.Listen)
	fmt.Println("database:", store.NewDSN(app))
	fmt.Printf("stripe: %s key, %d chars\n", stripe.Mode(), stripe.KeyLength())
	fmt.Println(jobs.Describe())
	sum := sha256.Sum256([]byte(strings.Join([]string{config.DBPassword, config.StripeAPIKey}, "\n")))
	fmt.Printf("fingerprint: %x\n", sum)
}
