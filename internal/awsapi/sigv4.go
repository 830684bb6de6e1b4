package awsapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/access"
)

// SigV4 (AWS Signature Version 4, header form) as the server checks it. The client signs a
// canonical form of the request with a key derived from its secret; the server rebuilds the same
// canonical form from what it received, derives the same key from the secret it knows for the
// key id (access.Registry.Secret: secrets are derived, never stored) and compares. Written from
// AWS's description of the algorithm ("Create a signed AWS API request", "Elements of an AWS API
// request signature").

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	// MaxClockSkew is how far X-Amz-Date may be from the server's clock, either way: AWS's 15
	// minutes. It bounds how long a captured request can be replayed.
	MaxClockSkew  = 15 * time.Minute
	amzDateFormat = "20060102T150405Z"
)

// KeySource gives the secret and principal of an active access key; *access.Registry is one.
// A missing, disabled or expired key is access.ErrUnauthenticated.
type KeySource interface {
	Secret(keyID string) (string, *access.Principal, error)
}

// signedRequest is what the Authorization header states.
type signedRequest struct {
	keyID, date, region, service string
	signedHeaders                []string
	signature                    string
}

// parseAuthorization reads "AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/SERVICE/aws4_request,
// SignedHeaders=a;b, Signature=hex".
func parseAuthorization(h string) (signedRequest, *Error) {
	var sr signedRequest
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != sigAlgorithm {
		return sr, incompleteSignature("Authorization header algorithm %q is not supported; sign with %s (Signature Version 4)", alg, sigAlgorithm)
	}
	parts := map[string]string{}
	for p := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return sr, incompleteSignature("Authorization header element %q is not KEY=VALUE", strings.TrimSpace(p))
		}
		parts[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if parts[k] == "" {
			return sr, incompleteSignature("Authorization header requires a '%s' parameter", k)
		}
	}
	scope := strings.Split(parts["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" {
		return sr, incompleteSignature("Credential %q is not ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request", parts["Credential"])
	}
	sr.keyID, sr.date, sr.region, sr.service = scope[0], scope[1], scope[2], scope[3]
	sr.signedHeaders = strings.Split(parts["SignedHeaders"], ";")
	sr.signature = strings.ToLower(parts["Signature"])
	if len(sr.signature) != 64 {
		return sr, incompleteSignature("Signature is not 64 hexadecimal digits")
	}
	return sr, nil
}

// verified is an authenticated request.
type verified struct {
	principal *access.Principal
	keyID     string
	region    string
	service   string
}

// queryAuth are the query parameters of a presigned (query string) SigV4 request.
var queryAuth = []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"}

// verify authenticates r, whose whole body is body, as signed for region and one of services.
// Every refusal is an *Error in the AWS shape; which part was wrong is said only for the
// request's form (missing header, skew, scope), never whether the key id exists.
//
// A request carries exactly one signature: two Authorization headers, or an Authorization
// header and query string authentication, are refused (400 IncompleteSignatureException, as
// AWS refuses a request with more than one auth mechanism) rather than one of them checked and
// the other ignored — a proxy in front may have checked or logged the other one. The credential
// scope must name the server's region and the service (403 InvalidSignatureException, AWS's
// "Credential should be scoped to a valid region"), and its date the day of X-Amz-Date. The
// signed headers must include host, the date header, and X-Amz-Target when the request has one.
func verify(r *http.Request, body []byte, keys KeySource, now time.Time, region string, services ...string) (*verified, *Error) {
	auths := r.Header.Values("Authorization")
	query := r.URL.Query()
	presigned := slices.ContainsFunc(queryAuth, query.Has)
	switch {
	case len(auths) > 1:
		return nil, incompleteSignature("Only one auth mechanism allowed: the request has %d Authorization headers", len(auths))
	case len(auths) == 1 && presigned:
		return nil, incompleteSignature("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case presigned:
		return nil, incompleteSignature("presigned (query string) requests are not supported; sign the Authorization header")
	case len(auths) == 0 || auths[0] == "":
		return nil, &Error{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token: sign the request with Signature Version 4 and an auditlake access key"}
	}
	for _, h := range []string{"X-Amz-Date", "Date", "X-Amz-Content-Sha256"} {
		if len(r.Header.Values(h)) > 1 {
			return nil, incompleteSignature("the request has more than one %s header", h)
		}
	}
	sr, e := parseAuthorization(auths[0])
	if e != nil {
		return nil, e
	}
	if !slices.Contains(services, sr.service) {
		return nil, incompleteSignature("Credential should be scoped to a valid service: %q, not %q", strings.Join(services, `" or "`), sr.service)
	}
	if sr.region != region {
		return nil, &Error{http.StatusForbidden, "InvalidSignatureException", fmt.Sprintf("Credential should be scoped to a valid region, not '%s'; this server's region is '%s'", sr.region, region)}
	}
	if !slices.Contains(sr.signedHeaders, "host") {
		return nil, incompleteSignature("SignedHeaders must include host")
	}
	// X-Amz-Target names the operation: a signature that does not cover it would let whoever
	// saw the request send it again as another operation on the same body (every SDK signs it).
	if len(r.Header.Values("X-Amz-Target")) > 0 && !slices.Contains(sr.signedHeaders, "x-amz-target") {
		return nil, incompleteSignature("SignedHeaders must include x-amz-target: it names the operation")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	dateHeader := "x-amz-date"
	if amzDate == "" {
		amzDate, dateHeader = r.Header.Get("Date"), "date"
	}
	t, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		if t, err = http.ParseTime(amzDate); err != nil {
			return nil, incompleteSignature("X-Amz-Date %q is not in the form YYYYMMDDTHHMMSSZ", amzDate)
		}
	}
	if !slices.Contains(sr.signedHeaders, dateHeader) {
		return nil, incompleteSignature("SignedHeaders must include %s", dateHeader)
	}
	if t.UTC().Format("20060102") != sr.date {
		return nil, incompleteSignature("Credential date %q does not match X-Amz-Date %q", sr.date, amzDate)
	}
	if d := now.Sub(t); d > MaxClockSkew {
		return nil, &Error{http.StatusForbidden, "InvalidSignatureException", fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			t.UTC().Format(amzDateFormat), now.Add(-MaxClockSkew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat))}
	} else if d < -MaxClockSkew {
		return nil, &Error{http.StatusForbidden, "InvalidSignatureException", fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			t.UTC().Format(amzDateFormat), now.Add(MaxClockSkew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat))}
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && !strings.EqualFold(claimed, payloadHash) {
		return nil, &Error{http.StatusBadRequest, "InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed"}
	}
	secret, p, err := keys.Secret(sr.keyID)
	if err != nil {
		if errors.Is(err, access.ErrUnauthenticated) {
			return nil, &Error{http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."}
		}
		return nil, &Error{http.StatusInternalServerError, "InternalFailure", "internal error; the server log has the details"}
	}
	canonical := canonicalRequest(r, sr.signedHeaders, payloadHash)
	scope := strings.Join([]string{sr.date, sr.region, sr.service, "aws4_request"}, "/")
	crHash := sha256.Sum256([]byte(canonical))
	toSign := sigAlgorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(crHash[:])
	want := hex.EncodeToString(hmacSHA256(signingKey(secret, sr.date, sr.region, sr.service), toSign))
	if subtle.ConstantTimeCompare([]byte(want), []byte(sr.signature)) != 1 {
		return nil, &Error{http.StatusForbidden, "InvalidSignatureException",
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}
	}
	return &verified{principal: p, keyID: sr.keyID, region: sr.region, service: sr.service}, nil
}

func incompleteSignature(format string, args ...any) *Error {
	return &Error{http.StatusBadRequest, "IncompleteSignatureException", fmt.Sprintf(format, args...)}
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signingKey derives the key of one day, region and service from the secret.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

// canonicalRequest is the request as SigV4 signs it: method, URI, query, the signed headers
// (names lower case, values trimmed with inner runs of spaces collapsed, repeated headers joined
// by commas), the list of their names and the payload's SHA-256.
func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(canonicalURI(r.URL) + "\n")
	b.WriteString(canonicalQuery(r.URL.RawQuery) + "\n")
	for _, h := range signed {
		var vals []string
		switch h {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			if v := r.Header.Values(h); len(v) > 0 {
				vals = v
			} else {
				vals = []string{fmt.Sprint(r.ContentLength)}
			}
		default:
			vals = r.Header.Values(h)
		}
		trimmed := make([]string, len(vals))
		for i, v := range vals {
			trimmed[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(h + ":" + strings.Join(trimmed, ",") + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n" + payloadHash)
	return b.String()
}

// canonicalURI is the path as the client sent it, URI-encoded once more (every service but S3
// encodes the path twice); an empty path is "/".
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return uriEncode(p, true)
}

// canonicalQuery sorts the decoded parameters by name, then value, and encodes them again.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var params []kv
	for p := range strings.SplitSeq(raw, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		if dk, err := url.PathUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.PathUnescape(v); err == nil {
			v = dv
		}
		params = append(params, kv{uriEncode(k, false), uriEncode(v, false)})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	parts := make([]string, len(params))
	for i, p := range params {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

// uriEncode percent-encodes every byte but the unreserved characters (RFC 3986: letters, digits,
// '-', '.', '_', '~'), and '/' when keepSlash; hexadecimal digits upper case.
func uriEncode(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		case c == '/' && keepSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}
