package access

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"sync"
)

// SCRAMIterations is the PBKDF2 iteration count of the SCRAM verifiers (PostgreSQL's default).
const SCRAMIterations = 4096

// SCRAMVerifier is what the Postgres door's SCRAM-SHA-256 (RFC 5802, RFC 7677) needs of a key's
// secret: the salt and iteration count it offers, StoredKey = H(HMAC(SaltedPassword, "Client
// Key")), which checks a client's proof, and ServerKey, which signs the server's answer. It is
// computed once, when the key is made (PBKDF2 of the secret, the costly part), and kept in
// access.json: a login derives nothing, so a client that has proved nothing cannot make the
// server run PBKDF2. The verifier reveals no secret (a guess of a 40-character random secret
// would have to be checked through PBKDF2), and StoredKey does not log in: a proof needs the
// client key it is the hash of.
type SCRAMVerifier struct {
	Salt       []byte `json:"salt"`
	Iterations int    `json:"iterations"`
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
}

// scramSalt is the salt of key id's verifier: derived from the master key and the id, so the
// salt a key id is offered is the same at every exchange whether or not the key exists.
func scramSalt(master []byte, keyID string) []byte {
	return hmacSum(master, "auditlake scram salt\x00"+keyID)[:16]
}

// newSCRAMVerifier computes the verifier of key k (PBKDF2, SCRAMIterations rounds).
func newSCRAMVerifier(master []byte, k Key) *SCRAMVerifier {
	salt := scramSalt(master, k.ID)
	salted, err := pbkdf2.Key(sha256.New, secret(master, k), salt, SCRAMIterations, sha256.Size)
	if err != nil {
		panic(err) // only for parameters FIPS mode refuses; these are fixed and valid
	}
	stored := sha256.Sum256(hmacSum(salted, "Client Key"))
	return &SCRAMVerifier{Salt: salt, Iterations: SCRAMIterations, StoredKey: stored[:], ServerKey: hmacSum(salted, "Server Key")}
}

func hmacSum(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// scramCache holds the verifiers derived for keys made before verifiers were kept in
// access.json, by key id and nonce: each is derived once per process.
type scramCache struct {
	mu sync.Mutex
	m  map[string]*SCRAMVerifier
}

// SCRAM returns the SCRAM verifier of an active key and the key's principal. A key made before
// verifiers were stored has its verifier derived at its first use and kept in memory. A missing
// or unusable key is ErrUnauthenticated, with a verifier under the salt and iteration count such
// a key id would have and keys no proof matches: the exchange runs to its end, its messages the
// same as for a key that exists, and nothing costly is computed for it.
func (r *Registry) SCRAM(keyID string) (SCRAMVerifier, *Principal, error) {
	master, err := r.masterKey()
	if err != nil {
		return SCRAMVerifier{}, nil, err
	}
	s, err := r.State()
	if err != nil {
		return SCRAMVerifier{}, nil, err
	}
	u, k := s.key(keyID)
	if k == nil || !usable(u, k, r.now()) {
		none := hmacSum(master, "auditlake scram none\x00"+keyID)
		return SCRAMVerifier{Salt: scramSalt(master, keyID), Iterations: SCRAMIterations, StoredKey: none, ServerKey: none}, nil, ErrUnauthenticated
	}
	if k.SCRAM != nil {
		return *k.SCRAM, s.principal(u.Name, keyID), nil
	}
	r.scram.mu.Lock()
	defer r.scram.mu.Unlock()
	v := r.scram.m[k.ID+"\x00"+k.Nonce]
	if v == nil {
		v = newSCRAMVerifier(master, *k)
		if r.scram.m == nil {
			r.scram.m = map[string]*SCRAMVerifier{}
		}
		r.scram.m[k.ID+"\x00"+k.Nonce] = v
	}
	return *v, s.principal(u.Name, keyID), nil
}
