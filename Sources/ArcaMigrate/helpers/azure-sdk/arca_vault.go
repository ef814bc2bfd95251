// Vault lookups added by `arca migrate --style azure-sdk`, through the official Azure SDK for Go.
//
// arcaSecret(name) reads a secret from the Key Vault at AZURE_KEYVAULT_URL (else ARCA_VAULT_URL) with azsecrets,
// signing in with DefaultAzureCredential (AZURE_TENANT_ID / AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or
// AZURE_CLIENT_CERTIFICATE_PATH, a managed identity, the Azure CLI…). Values are cached for ARCA_SECRET_TTL
// seconds (default 300). A failure stops the program with one message.
// Needs: go get github.com/Azure/azure-sdk-for-go/sdk/azidentity github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets

package {{PACKAGE}}

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

var arcaVault = struct {
	sync.Mutex
	client *azsecrets.Client
	cache  map[string]arcaCached
}{cache: map[string]arcaCached{}}

type arcaCached struct {
	value string
	at    time.Time
}

func arcaSecret(name string) string {
	arcaVault.Lock()
	defer arcaVault.Unlock()
	ttl, err := strconv.Atoi(os.Getenv("ARCA_SECRET_TTL"))
	if err != nil {
		ttl = 300
	}
	if hit, ok := arcaVault.cache[name]; ok && time.Since(hit.at) < time.Duration(ttl)*time.Second {
		return hit.value
	}
	if arcaVault.client == nil {
		url := os.Getenv("AZURE_KEYVAULT_URL")
		if url == "" {
			url = os.Getenv("ARCA_VAULT_URL")
		}
		if url == "" {
			fmt.Fprintln(os.Stderr, "arca vault: AZURE_KEYVAULT_URL is not set (the vault's URL)")
			os.Exit(70)
		}
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err == nil {
			arcaVault.client, err = azsecrets.NewClient(url, cred, nil)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "arca vault:", err)
			os.Exit(70)
		}
	}
	resp, err := arcaVault.client.GetSecret(context.Background(), name, "", nil)
	if err != nil || resp.Value == nil {
		fmt.Fprintln(os.Stderr, "arca vault: cannot read", name+":", err)
		os.Exit(70)
	}
	arcaVault.cache[name] = arcaCached{*resp.Value, time.Now()}
	return *resp.Value
}
