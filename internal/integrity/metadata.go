package integrity

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/auditlake/auditlake/internal/objstore"
)

// SidecarSuffix is appended to a local digest file's name to name the file that keeps the
// digest's S3 user metadata. CloudTrail stores a digest's signature only there, so a local copy
// without it cannot be validated (the newest digest has no successor that repeats it).
const SidecarSuffix = ".metadata.json"

// Metadata is the content of a digest's sidecar file: the two S3 user-metadata values.
type Metadata struct {
	Signature          string `json:"signature"`
	SignatureAlgorithm string `json:"signature-algorithm"`
}

// CopyDigestMetadata reads the S3 user metadata of the digest at s3URI and writes it beside the
// local copy at localPath as localPath+SidecarSuffix, atomically (a temporary file renamed into
// place). Ingest calls it after copying a digest out of S3 so that the local copy stays
// verifiable. It fails if the object has no signature metadata.
func CopyDigestMetadata(ctx context.Context, client *objstore.Client, s3URI, localPath string) error {
	if !objstore.IsS3(s3URI) {
		return fmt.Errorf("copy digest metadata %q: not an s3 uri", s3URI)
	}
	_, meta, err := client.Stat(ctx, s3URI)
	if err != nil {
		return fmt.Errorf("copy digest metadata %q: %w", s3URI, err)
	}
	m := Metadata{Signature: meta["signature"], SignatureAlgorithm: meta["signature-algorithm"]}
	if m.Signature == "" {
		return fmt.Errorf("copy digest metadata %q: object has no x-amz-meta-signature", s3URI)
	}
	return WriteMetadata(localPath, m)
}

// WriteMetadata writes m as the sidecar of the local digest file at digestPath, atomically.
func WriteMetadata(digestPath string, m Metadata) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode digest metadata for %q: %w", digestPath, err)
	}
	dst := digestPath + SidecarSuffix
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-*")
	if err != nil {
		return fmt.Errorf("write digest metadata %q: %w", dst, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write digest metadata %q: %w", dst, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write digest metadata %q: %w", dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("write digest metadata %q: %w", dst, err)
	}
	return nil
}
