// Package store opens the orders database.
package store

import (
	"fmt"

	"example.com/orders/internal/config"
)

type DSN struct {
	Host, Name, User, Password string
}

func NewDSN(app config.App) DSN {
	return DSN{Host: app.DBHost, Name: app.DBName, User: config.DBUser, Password: config.DBPassword}
}

// String never shows the password.
func (d DSN) String() string {
	return fmt.Sprintf("postgres://%s@%s/%s (password %d chars)", d.User, d.Host, d.Name, len(d.Password))
}
