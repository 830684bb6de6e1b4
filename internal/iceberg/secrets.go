package iceberg

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"strings"

	iceberggo "github.com/apache/iceberg-go"
)

// secretKeys are catalog properties that hold secrets: catalog set refuses them in --property
// (they would be written in catalog.json and printed by catalog show); the REST catalog's are set
// with --token/--credential env:NAME|file:PATH, Glue's come from the AWS credential chain. The
// REST catalog sends a "header.NAME" property as an HTTP header, so the headers that carry
// credentials (Authorization, Cookie, an API key) are secrets too.
var secretKeys = []string{"token", "credential", "secret", "password", "session-token", "access-key-id",
	"authorization", "cookie", "api-key", "apikey"}

func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	if strings.HasSuffix(k, "-url") || strings.HasSuffix(k, "-uri") {
		return false // where a token is asked for (rest.authorization-url), not a secret
	}
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

func (c Config) validateSecrets() error {
	for _, ref := range []struct{ flag, v string }{{"--token", c.Token}, {"--credential", c.Credential}} {
		if ref.v == "" {
			continue
		}
		if c.Type != "rest" {
			return fmt.Errorf("catalog %s: %s is the REST catalog's (Glue takes the AWS credential chain)", c.Type, ref.flag)
		}
		kind, rest, ok := strings.Cut(ref.v, ":")
		if !ok || rest == "" || (kind != "env" && kind != "file") {
			return fmt.Errorf("catalog rest: %s takes env:NAME or file:PATH, where the secret is read when the catalog is opened (a secret itself is not taken on the command line)", ref.flag)
		}
	}
	for k := range c.Extra {
		if k == "" || strings.ContainsAny(k, "= \t\n") {
			return fmt.Errorf("catalog property %q: not a property name", k)
		}
		if isSecretKey(k) {
			return fmt.Errorf("catalog property %q holds a secret: use --token/--credential env:NAME|file:PATH (REST) or the AWS credential chain (Glue)", k)
		}
		switch k {
		case "name", "type", "uri", "warehouse", "glue.region", "glue.endpoint":
			return fmt.Errorf("catalog property %q: set it with its own argument or flag", k)
		}
	}
	return nil
}

func (c Config) withExtra(p iceberggo.Properties) iceberggo.Properties {
	for k, v := range c.Extra {
		if _, ok := p[k]; !ok {
			p[k] = v
		}
	}
	return p
}

// ShowProperties are Properties with where the REST catalog's secrets are read from,
// "auditlake.token-from" and "auditlake.credential-from" (env:NAME or file:PATH), never the
// secrets: what catalog show prints, so a client that opens the catalog knows which secret to
// add as "token" or "credential" (iceberg-go's catalog.Load ignores the two keys).
func (c Config) ShowProperties(dataDir string) iceberggo.Properties {
	p := c.Properties(dataDir)
	for _, ref := range []struct{ key, v string }{{"auditlake.token-from", c.Token}, {"auditlake.credential-from", c.Credential}} {
		if ref.v != "" {
			p[ref.key] = ref.v
		}
	}
	return p
}

// OpenProperties are Properties with the secrets read from where Token and Credential say: what
// auditlake opens the catalog with. Properties (catalog show) never holds them.
func (c Config) OpenProperties(dataDir string) (iceberggo.Properties, error) {
	p := maps.Clone(c.Properties(dataDir))
	for _, ref := range []struct{ key, flag, v string }{{"token", "--token", c.Token}, {"credential", "--credential", c.Credential}} {
		if ref.v == "" {
			continue
		}
		s, err := readSecret(ref.v)
		if err != nil {
			return nil, fmt.Errorf("catalog rest %s %s: %w", ref.flag, ref.v, err)
		}
		p[ref.key] = s
	}
	return p, nil
}

// readSecret reads the secret ref (env:NAME or file:PATH) names, without its trailing newline.
func readSecret(ref string) (string, error) {
	kind, where, _ := strings.Cut(ref, ":")
	var s string
	switch kind {
	case "env":
		v, ok := os.LookupEnv(where)
		if !ok {
			return "", fmt.Errorf("the environment variable %s is not set", where)
		}
		s = v
	case "file":
		b, err := os.ReadFile(where)
		if err != nil {
			return "", err
		}
		s = string(b)
	default:
		return "", errors.New("want env:NAME or file:PATH")
	}
	s = strings.TrimRight(s, "\r\n")
	if s == "" {
		return "", errors.New("empty")
	}
	return s, nil
}

// redactURI is uri with the password of its user information masked; u is uri parsed, nil when
// it does not parse, and then the whole user information is masked.
func redactURI(uri string, u *url.URL) string {
	if u != nil {
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return uri
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if i := strings.LastIndex(rest[:end], "@"); i >= 0 {
		return scheme + "://xxxxx" + rest[i:]
	}
	return uri
}
