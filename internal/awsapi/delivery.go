package awsapi

import (
	"context"
	"crypto/x509"
	"net/http"
	"regexp"
	"time"

	"github.com/auditlake/auditlake/internal/delivery"
	"github.com/auditlake/auditlake/internal/objstore"
	"github.com/auditlake/auditlake/internal/server"
)

// DeliveryOptions are what StartQuery's DeliveryS3Uri and ListPublicKeys need.
type DeliveryOptions struct {
	// Signer signs the deliveries' result_sign.json (the data directory's delivery key,
	// delivery.LoadOrCreateKey); nil refuses DeliveryS3Uri.
	Signer *delivery.Signer
	// KeyCreated is when the key was made (its file's modification time): ListPublicKeys'
	// ValidityStartTime.
	KeyCreated time.Time
	// Client writes to S3, with the server's own credentials (serve's --profile, --region,
	// --endpoint-url); nil means the SDK's defaults.
	Client *objstore.Client
}

// keyValidityEnd is the ValidityEndTime of the delivery key: it does not expire (it is replaced
// by hand, 'auditlake delivery-key' documents how).
var keyValidityEnd = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// Lake's pattern for DeliveryS3Uri (an S3 bucket name, then an optional prefix).
var deliveryURIRE = regexp.MustCompile(`^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$`)

// checkDeliveryURI refuses a DeliveryS3Uri the server cannot write: only s3:// (never a path
// on the server's disk) and only when it has a signing key.
func (h *Handler) checkDeliveryURI(uri string) *Error {
	switch {
	case len(uri) > 1024 || !deliveryURIRE.MatchString(uri):
		return invalidParameter("DeliveryS3Uri %q is not an S3 URI (s3://bucket/prefix)", uri)
	case h.opts.Delivery.Signer == nil:
		return errorf(http.StatusBadRequest, "UnsupportedOperationException", "DeliveryS3Uri: this auditlake server has no delivery key; page the results with GetQueryResults")
	}
	return nil
}

// deliver writes a finished query's result to its DeliveryS3Uri in Lake's layout, signed with
// the server's delivery key, dated when the query finished.
func (h *Handler) deliver(ctx context.Context, q *query, res *server.Result) error {
	cols := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		cols[i] = c.Name
	}
	s := h.queries.snapshot(q)
	_, err := delivery.Write(ctx, q.deliveryURI, cols, server.PresentedRows(res.Columns, res.Rows), q.id, h.opts.Delivery.Signer,
		delivery.Options{Client: h.opts.Delivery.Client, Account: Account, Region: q.region, Now: s.finished})
	return err
}

type listPublicKeysRequest struct {
	StartTime *epoch `json:"StartTime"`
	EndTime   *epoch `json:"EndTime"`
	NextToken string `json:"NextToken"`
}

type publicKey struct {
	Value             []byte `json:"Value"` // PKCS #1 DER, base64 in JSON as Lake's blob
	ValidityStartTime *epoch `json:"ValidityStartTime"`
	ValidityEndTime   *epoch `json:"ValidityEndTime"`
	Fingerprint       string `json:"Fingerprint"`
}

// listPublicKeys answers with the delivery key, as CloudTrail lists the keys that sign its digest
// and sign files: every signed-in principal may read it. A window that ends before the key was
// made lists nothing.
func (h *Handler) listPublicKeys(ctx context.Context, c *call) (any, *Error) {
	var req listPublicKeysRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if req.NextToken != "" { // every answer is one page: no token was given out
		return nil, errorf(http.StatusBadRequest, "InvalidTokenException", "NextToken %q is not a token this server gave", req.NextToken)
	}
	if req.StartTime != nil && req.EndTime != nil && req.EndTime.Before(req.StartTime.Time) {
		return nil, errorf(http.StatusBadRequest, "InvalidTimeRangeException", "EndTime %s is before StartTime %s", req.EndTime.Format(time.RFC3339), req.StartTime.Format(time.RFC3339))
	}
	keys := []publicKey{}
	d := h.opts.Delivery
	if d.KeyCreated.IsZero() {
		d.KeyCreated = time.Unix(0, 0).UTC()
	}
	if d.Signer != nil && (req.EndTime == nil || !req.EndTime.Before(d.KeyCreated)) {
		keys = append(keys, publicKey{Value: x509.MarshalPKCS1PublicKey(d.Signer.Public()), Fingerprint: d.Signer.Fingerprint(),
			ValidityStartTime: epochOf(d.KeyCreated), ValidityEndTime: &epoch{keyValidityEnd}})
	}
	c.rows = len(keys)
	return struct {
		PublicKeyList []publicKey `json:"PublicKeyList"`
	}{keys}, nil
}
