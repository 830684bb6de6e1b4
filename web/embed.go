// Package web holds auditlake's web dashboard: a TypeScript single-page app (src/, built by
// Vite into dist/) embedded into the binary so that the dashboard works offline with no CDN.
//
// Build the assets before the Go binary:
//
//	npm ci --prefix web && npm run build --prefix web
//
// (the root Makefile's "web" target runs exactly that). The build in dist/ is committed, so a
// binary built by `go install` serves the dashboard without npm; `make test` checks that the
// committed build equals a fresh one (scripts/check-web-dist.sh). Should dist/ lack index.html,
// Assets returns nil and the server shows a page saying the assets were not built.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Assets returns the built dashboard with index.html at its root, or nil when dist holds no
// index.html (the binary was built before npm run build).
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil
	}
	if _, err := fs.Stat(sub, "index.html"); err != nil {
		return nil
	}
	return sub
}
