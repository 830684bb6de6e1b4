package iceberg_test

import (
	"strings"
	"testing"

	"github.com/auditlake/auditlake/internal/iceberg"
)

// TestCatalogSettingsThatCarryASecretAreRefused: iceberg-go's REST catalog sends every
// "header.NAME" property as an HTTP header and a URI's user:password as basic authentication,
// so --property header.Authorization=… or https://user:password@host/ put the secret in
// catalog.json and catalog show printed it, past the rule that secrets are read from env: or
// file: only. Both are refused, without the secret in the error; headers and URLs that hold
// no secret stay accepted.
func TestCatalogSettingsThatCarryASecretAreRefused(t *testing.T) {
	const secret = "s3cr3t-77a1"
	rest := func(uri string, props map[string]string) iceberg.Config {
		return iceberg.Config{Type: "rest", URI: uri, Extra: props}
	}
	for _, c := range []iceberg.Config{
		rest("https://cat.example/api", map[string]string{"header.Authorization": "Bearer " + secret}),
		rest("https://cat.example/api", map[string]string{"header.X-Api-Key": secret}),
		rest("https://cat.example/api", map[string]string{"header.Cookie": "session=" + secret}),
		rest("https://bob:"+secret+"@cat.example/api", nil),
		rest("ftp://bob:"+secret+"@cat.example/api", nil),
		rest("https://bob:"+secret+"%zz@cat.example/api", nil), // does not parse
	} {
		err := c.Validate()
		if err == nil {
			t.Errorf("%s %v: accepted", c.URI, c.Extra)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s %v: the error prints the secret: %v", c.URI, c.Extra, err)
		}
	}
	for _, c := range []iceberg.Config{
		rest("https://cat.example/api", map[string]string{"rest.authorization-url": "https://auth.example/token", "header.X-Iceberg-Access-Delegation": "vended-credentials"}),
		rest("https://bob@cat.example/api", nil),
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s %v: %v", c.URI, c.Extra, err)
		}
	}
}
