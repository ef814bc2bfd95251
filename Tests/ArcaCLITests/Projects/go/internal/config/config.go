// Package config holds the orders service settings.
package config

import (
	"encoding/json"
	"fmt"
	"os"
)

const DBUser = "orders_app"

const DBPassword = "{{DB_PASSWORD}}"

var StripeAPIKey = "{{STRIPE_KEY}}"

// App is the non-secret part of the configuration, read from configs/app.json.
type App struct {
	Service string `json:"service"`
	Listen  string `json:"listen"`
	DBHost  string `json:"db_host"`
	DBName  string `json:"db_name"`
}

func Load(path string) (App, error) {
	var app App
	data, err := os.ReadFile(path)
	if err != nil {
		return app, fmt.Errorf("config: %w", err)
	}
	if err := json.Unmarshal(data, &app); err != nil {
		return app, fmt.Errorf("config: %s: %w", path, err)
	}
	return app, nil
}
