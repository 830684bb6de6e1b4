package iceberg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"time"

	iceberggo "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/lake"
)

// Config is the catalog the stores are published to, kept in <data>/iceberg/catalog.json. No
// file: the default, the embedded SQL catalog (defaultConfig), so every store is an Iceberg
// table from its first commit; type "none" (auditlake catalog set none) turns the tables off.
type Config struct {
	// Type is "sql" (the embedded SQLite catalog in the data directory), "rest", "glue", or
	// "none" (no catalog).
	Type string `json:"type"`
	// URI is the REST catalog's endpoint.
	URI string `json:"uri,omitempty"`
	// Warehouse is where table metadata is written: the data directory's iceberg/warehouse for
	// the SQL catalog when empty; an s3:// location for REST and Glue.
	Warehouse string `json:"warehouse,omitempty"`
	// Region and Endpoint are the Glue catalog's.
	Region   string `json:"region,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	// Database is the namespace tables are in ("auditlake").
	Database string `json:"database,omitempty"`
	// KeepRetired is how long a file no snapshot's current state names is kept, so queries in
	// other engines on an older snapshot keep their files (default 24h).
	KeepRetired string `json:"keep_retired,omitempty"`
	// Token and Credential are where the REST catalog's secrets are read when the catalog is
	// opened — "env:NAME" or "file:PATH", never the secret itself, so it is neither on a
	// command line nor in this file: Token is a bearer token, Credential an OAuth2 client
	// credential "client_id:client_secret" exchanged at the catalog's token endpoint.
	Token      string `json:"token,omitempty"`
	Credential string `json:"credential,omitempty"`
	// Extra are further catalog properties passed as they are (catalog set --property k=v),
	// such as prefix, scope, rest.sigv4-enabled, rest.signing-name, glue.id.
	Extra map[string]string `json:"properties,omitempty"`
}

func configPath(dataDir string) string { return filepath.Join(dataDir, "iceberg", "catalog.json") }

// defaultConfig is the catalog of a data directory where none was set: the embedded SQL catalog.
var defaultConfig = Config{Type: "sql"}

// LoadConfig reads the data directory's catalog (defaultConfig when none was set); ok is false
// when the tables are turned off (type none).
func LoadConfig(dataDir string) (c Config, ok bool, err error) {
	if _, err := os.Stat(configPath(dataDir)); errors.Is(err, fs.ErrNotExist) {
		return defaultConfig, true, nil
	}
	if err := atomicfile.ReadJSON(configPath(dataDir), &c); err != nil {
		return Config{}, false, fmt.Errorf("iceberg catalog settings: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, false, err
	}
	return c, c.Type != "none", nil
}

// SaveConfig validates c and writes it.
func SaveConfig(dataDir string, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return atomicfile.UpdateJSON(configPath(dataDir), configPath(dataDir)+".lock", func(old *Config) error {
		*old = c
		return nil
	})
}

// Validate says what is wrong with c.
func (c Config) Validate() error {
	switch c.Type {
	case "sql", "none":
	case "rest":
		u, err := url.Parse(c.URI)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("catalog rest: %q is not an http(s) URL", redactURI(c.URI, u))
		}
		// iceberg-go sends a URI's user:password as basic authentication: kept here, the
		// password would be in catalog.json and printed by catalog show.
		if _, ok := u.User.Password(); ok {
			return fmt.Errorf("catalog rest: %q holds a password: use --token/--credential env:NAME|file:PATH", u.Redacted())
		}
	case "glue":
		if c.Region == "" {
			return errors.New("catalog glue: --region is required")
		}
	default:
		return fmt.Errorf("catalog type %q: want sql, rest, glue or none", c.Type)
	}
	if c.Database != "" && c.Database != Namespace {
		return fmt.Errorf("catalog database %q: tables are kept in the namespace %q", c.Database, Namespace)
	}
	if _, err := c.Keep(); err != nil {
		return err
	}
	return c.validateSecrets()
}

// Keep is how long retired files are kept.
func (c Config) Keep() (time.Duration, error) {
	if c.KeepRetired == "" {
		return 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(c.KeepRetired)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("keep retired files %q: not a duration like 24h", c.KeepRetired)
	}
	return d, nil
}

// Properties are the properties iceberg-go's catalog.Load takes to open the catalog, with
// "name", the catalog name it is opened under (the SQL catalog keys tables by it), and the S3
// properties of the published tables (S3Properties).
func (c Config) Properties(dataDir string) iceberggo.Properties {
	p := c.properties(dataDir)
	maps.Copy(p, S3Properties(dataDir))
	return p
}

func (c Config) properties(dataDir string) iceberggo.Properties {
	switch c.Type {
	case "rest":
		p := iceberggo.Properties{"name": CatalogName, "type": "rest", "uri": c.URI}
		if c.Warehouse != "" {
			p["warehouse"] = c.Warehouse
		}
		return c.withExtra(p)
	case "glue":
		p := iceberggo.Properties{"name": CatalogName, "type": "glue", "glue.region": c.Region}
		if c.Endpoint != "" {
			p["glue.endpoint"] = c.Endpoint
		}
		if c.Warehouse != "" {
			p["warehouse"] = c.Warehouse
		}
		return c.withExtra(p)
	}
	p := SQLProperties(dataDir)
	if c.Warehouse != "" {
		p["warehouse"] = c.Warehouse
	}
	return p
}

// Attach opens the data directory's catalog, unless the tables are turned off, and hooks it to
// lk so every commit is followed by its snapshot. It returns a closer (a no-op without one).
func Attach(ctx context.Context, lk *lake.Lake, onErr func(error)) (func(), error) {
	c, ok, err := LoadConfig(lk.Dir)
	if err != nil || !ok {
		return func() {}, err
	}
	props, err := c.OpenProperties(lk.Dir)
	if err != nil {
		return nil, err
	}
	cat, err := Open(ctx, props)
	if err != nil {
		return nil, fmt.Errorf("open the iceberg catalog (%s): %w", c.Type, err)
	}
	keep, _ := c.Keep()
	lk.Hooks = Hooks(cat, lk, keep, onErr)
	recordSyncs(lk.Dir, lk.Hooks)
	followInBackground(lk.Hooks)
	// The write session's early uploads no commit took and its decision about the store's
	// publication end with it (Writer.Close, once the follower is done).
	idle := lk.Hooks.Idle
	lk.Hooks.Idle = func(id string) {
		idle(id)
		endEarly(lk.Dir, id)
		forgetPublication(lk.Dir, id)
	}
	// A cost cache refresh or registration whose catalog update a crash (or a failing catalog)
	// cut off is caught up now.
	if _, err := CatchUpCosts(ctx, cat, lk.Dir); err != nil && onErr != nil {
		onErr(fmt.Errorf("the cost tables' Iceberg tables did not catch up with the registry (auditlake catalog sync retries): %w", err))
	}
	return func() {
		if cl, ok := cat.(catalog.Closer); ok {
			cl.Close()
		}
	}, nil
}
