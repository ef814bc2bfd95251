// Package payments talks to the card processor.
package payments

import (
	"strings"

	"example.com/orders/internal/config"
)

type Client struct {
	apiKey string
}

func New() *Client { return &Client{apiKey: config.StripeAPIKey} }

func (c *Client) Mode() string {
	if strings.HasPrefix(c.apiKey, "sk_live_") {
		return "live"
	}
	return "test"
}

func (c *Client) KeyLength() int { return len(c.apiKey) }
