package pgwire

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/auditlake/auditlake/internal/access"
)

// errBadProof is a SCRAM exchange whose proof does not match: the client does not know the
// secret (or the key does not exist: the exchange runs to the end either way).
var errBadProof = errors.New("scram: proof does not match")

// scramServer is the server side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677) without
// channel binding, over the access key's verifier (access.SCRAMVerifier: its salt, iteration
// count, StoredKey and ServerKey, kept by the registry): the server computes no PBKDF2, so a
// client that proves nothing costs it a few hashes.
type scramServer struct {
	v               access.SCRAMVerifier
	clientFirstBare string
	serverFirst     string
	gs2Header       string
	nonce           string
}

// first reads the client-first-message and returns the server-first-message.
func (s *scramServer) first(clientFirst string) (string, error) {
	// gs2-header: "n,," (no channel binding) or "y,," (client could, server does not offer it).
	// "p=…" asks for channel binding, which this server does not offer.
	parts := strings.SplitN(clientFirst, ",", 3)
	if len(parts) != 3 || (parts[0] != "n" && parts[0] != "y") || parts[1] != "" {
		return "", fmt.Errorf("scram: unsupported client-first-message (channel binding is not offered)")
	}
	s.gs2Header = parts[0] + ",,"
	s.clientFirstBare = parts[2]
	var clientNonce string
	for _, attr := range strings.Split(s.clientFirstBare, ",") {
		if v, ok := strings.CutPrefix(attr, "r="); ok {
			clientNonce = v
		}
	}
	if clientNonce == "" {
		return "", fmt.Errorf("scram: client-first-message has no nonce")
	}
	nonce := make([]byte, 18)
	rand.Read(nonce)
	s.nonce = clientNonce + base64.RawStdEncoding.EncodeToString(nonce)
	s.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%d", s.nonce, base64.StdEncoding.EncodeToString(s.v.Salt), s.v.Iterations)
	return s.serverFirst, nil
}

// final checks the client-final-message and returns the server-final-message. Any mismatch is
// errBadProof or a malformed-message error; both end the login the same way.
func (s *scramServer) final(clientFinal string) (string, error) {
	i := strings.LastIndex(clientFinal, ",p=")
	if i < 0 {
		return "", fmt.Errorf("scram: client-final-message has no proof")
	}
	withoutProof, proofB64 := clientFinal[:i], clientFinal[i+3:]
	var binding, nonce string
	for _, attr := range strings.Split(withoutProof, ",") {
		if v, ok := strings.CutPrefix(attr, "c="); ok {
			binding = v
		} else if v, ok := strings.CutPrefix(attr, "r="); ok {
			nonce = v
		}
	}
	if binding != base64.StdEncoding.EncodeToString([]byte(s.gs2Header)) || nonce != s.nonce {
		return "", errBadProof
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != sha256.Size {
		return "", errBadProof
	}
	authMessage := s.clientFirstBare + "," + s.serverFirst + "," + withoutProof
	clientSignature := hmacSHA256(s.v.StoredKey, authMessage)
	given := make([]byte, sha256.Size)
	for j := range given {
		given[j] = proof[j] ^ clientSignature[j]
	}
	givenStored := sha256.Sum256(given)
	if subtle.ConstantTimeCompare(givenStored[:], s.v.StoredKey) != 1 {
		return "", errBadProof
	}
	return "v=" + base64.StdEncoding.EncodeToString(hmacSHA256(s.v.ServerKey, authMessage)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
