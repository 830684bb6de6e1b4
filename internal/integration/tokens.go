package integration

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/lake"
)

// Token is a stored API token: its name and the SHA-256 of its secret, never the secret.
type Token struct {
	Name      string    `json:"name"`
	SHA256    string    `json:"sha256"`
	CreatedAt time.Time `json:"created_at"`
}

type tokenFile struct {
	Tokens []Token `json:"tokens"`
}

// ErrUnauthorized is returned when a token is missing or matches no stored token.
var ErrUnauthorized = errors.New("missing or unknown API token")

// tokenPrefix marks auditlake tokens so that secret scanners and people can recognise them.
const tokenPrefix = "alk_"

var tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func tokensPath(lk *lake.Lake) string { return filepath.Join(lk.Dir, "tokens.json") }

// Tokens lists the stored tokens, ordered by name.
func Tokens(lk *lake.Lake) ([]Token, error) {
	var f tokenFile
	if err := atomicfile.ReadJSON(tokensPath(lk), &f); err != nil {
		return nil, err
	}
	sort.Slice(f.Tokens, func(i, j int) bool { return f.Tokens[i].Name < f.Tokens[j].Name })
	return f.Tokens, nil
}

// CreateToken makes a random token, stores its SHA-256 under name (a generated name when
// empty) and returns the secret, which is not stored and cannot be shown again.
func CreateToken(lk *lake.Lake, name string) (secret string, tok Token, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	secret = tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	if name == "" {
		name = "token-" + lake.NewUUID()[:8]
	}
	if !tokenNameRE.MatchString(name) {
		return "", Token{}, fmt.Errorf("invalid token name %q: use 1-64 letters, digits, '.', '_' or '-'", name)
	}
	tok = Token{Name: name, SHA256: hashToken(secret), CreatedAt: time.Now().UTC().Truncate(time.Second)}
	err = updateJSON(lk, tokensPath(lk), func(f *tokenFile) error {
		for _, t := range f.Tokens {
			if t.Name == name {
				return fmt.Errorf("a token named %q already exists", name)
			}
		}
		f.Tokens = append(f.Tokens, tok)
		return nil
	})
	if err != nil {
		return "", Token{}, err
	}
	return secret, tok, nil
}

// DeleteToken revokes the token named name.
func DeleteToken(lk *lake.Lake, name string) error {
	return updateJSON(lk, tokensPath(lk), func(f *tokenFile) error {
		for i, t := range f.Tokens {
			if t.Name == name {
				f.Tokens = append(f.Tokens[:i], f.Tokens[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("no token named %q", name)
	})
}

// CheckToken returns the name of the stored token whose hash matches secret, or
// ErrUnauthorized. Hashes are compared in constant time.
func CheckToken(lk *lake.Lake, secret string) (string, error) {
	if secret == "" {
		return "", ErrUnauthorized
	}
	toks, err := Tokens(lk)
	if err != nil {
		return "", err
	}
	h := hashToken(secret)
	name := ""
	for _, t := range toks {
		if subtle.ConstantTimeCompare([]byte(t.SHA256), []byte(h)) == 1 {
			name = t.Name
		}
	}
	if name == "" {
		return "", ErrUnauthorized
	}
	return name, nil
}

func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
