package server

import (
	"bytes"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// notBuiltPage is served instead of the dashboard when the binary was built without web assets.
const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>auditlake</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2937}code{background:#f3f4f6;padding:.1rem .3rem;border-radius:3px}</style>
</head><body><h1>auditlake</h1>
<p><strong>assets not built: run make web</strong></p>
<p>This binary was built without the web dashboard. Run <code>make web</code> (it runs <code>npm ci --prefix web &amp;&amp; npm run build --prefix web</code>) and build auditlake again.</p>
<p>The JSON API works without them: try <a href="/api/stores">/api/stores</a>. It is documented in docs/api.md.</p>
</body></html>
`

// assets serves the single-page dashboard. Files under assets/ carry a content hash in their
// names and are cached for a year; everything else falls back to index.html, never cached.
func (s *Server) assets() http.Handler {
	var index []byte
	if s.opts.Assets != nil {
		index, _ = fs.ReadFile(s.opts.Assets, "index.html")
	}
	if index == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(notBuiltPage))
		})
	}
	files := http.FileServerFS(s.opts.Assets)
	started := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		setSecurityHeaders(w.Header())
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name != "" && name != "index.html" {
			if st, err := fs.Stat(s.opts.Assets, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				}
				files.ServeHTTP(w, r)
				return
			}
			if strings.HasPrefix(name, "assets/") {
				http.NotFound(w, r)
				return
			}
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "index.html", started, bytes.NewReader(index))
	})
}

// setSecurityHeaders keeps the page to its own origin: no CDN, no inline script, no framing.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}
