package pgwire

import "fmt"

// maxRetainedText bounds the text a connection's prepared statements, portals and SET
// parameters keep between messages. The counts are bounded (maxStatements, maxPortals) and so is
// each message (maxMessageLen), but their product was not: one client parsing 10,000 statements
// of 16 MiB each made the server hold 160 GB; and custom "x.y" parameters, which SET keeps for
// SHOW, had no count at all. A Postgres client's prepared statements and settings are a few KB.
const maxRetainedText = 64 << 20

// maxRetainedResults bounds the results a connection's portals keep: a portal suspended by
// Execute's row limit keeps its whole result (at most the backend's result size each), and a
// connection may have 1,000 named portals.
const maxRetainedResults = 256 << 20

// defaultMaxRetainedResults is Options.MaxRetainedResults's default: the results the portals of
// all connections keep together. Each connection's bound alone let 256 connections keep 64 GiB.
const defaultMaxRetainedResults = 1 << 30

// errRetainedResults refuses a portal's result past maxRetainedResults.
var errRetainedResults = &pgError{code: "53000", msg: fmt.Sprintf("the open portals of this connection hold more than %d MiB of results: fetch or close some", maxRetainedResults>>20)}

// keepResult gives portal p, one of the connection's, its result a within maxRetainedResults
// and the server's Options.MaxRetainedResults.
func (c *conn) keepResult(p *portal, a *answer) error {
	n := answerSize(a)
	if c.keptResults+n > maxRetainedResults {
		return errRetainedResults
	}
	if err := c.s.retain(n); err != nil {
		return err
	}
	c.keptResults += n
	p.resSize, p.res = n, a
	return nil
}

// retain counts n bytes more of kept results against the server's bound.
func (s *Server) retain(n int) error {
	s.retainedMu.Lock()
	defer s.retainedMu.Unlock()
	if s.retained+n > s.opts.MaxRetainedResults {
		return &pgError{code: "53000", msg: fmt.Sprintf("the open portals and cursors of the server's connections hold more than %d MiB of results: fetch or close some, or try again later", s.opts.MaxRetainedResults>>20)}
	}
	s.retained += n
	return nil
}

// releaseResult gives back what a portal's result counted (keepResult).
func (c *conn) releaseResult(p *portal) {
	c.keptResults -= p.resSize
	c.s.retainedMu.Lock()
	c.s.retained -= p.resSize
	c.s.retainedMu.Unlock()
	p.resSize = 0
}

// dropPortals closes every portal of the connection (when it ends), giving their results back.
func (c *conn) dropPortals() {
	for name := range c.portals {
		c.dropPortal(name)
	}
}

// answerSize estimates the memory of a's rows: the bytes of its text and binary values, and a
// word or two for each value.
func answerSize(a *answer) int {
	n := 0
	for _, row := range a.rows {
		for _, v := range row {
			n += 16
			switch v := v.(type) {
			case string:
				n += len(v)
			case []byte:
				n += len(v)
			}
		}
	}
	return n
}

// errRetained refuses a statement or portal past maxRetainedText.
var errRetained = &pgError{code: "53000", msg: fmt.Sprintf("the prepared statements and portals of this connection hold more than %d MiB of text: close some (Close, DEALLOCATE)", maxRetainedText>>20)}

// keepText makes room for text of size n in place of old's within maxRetainedText.
func (c *conn) keepText(old, n int) error {
	if c.kept-old+n > maxRetainedText {
		return errRetained
	}
	c.kept += n - old
	return nil
}

// keepStatement stores st as prepared statement name within maxRetainedText.
func (c *conn) keepStatement(name string, st *statement) error {
	old := 0
	if o := c.stmts[name]; o != nil {
		old = len(o.sql)
	}
	if err := c.keepText(old, len(st.sql)); err != nil {
		return err
	}
	c.stmts[name] = st
	return nil
}

// keepPortal stores p as portal name within maxRetainedText (a portal it replaces is dropped
// with its result).
func (c *conn) keepPortal(name string, p *portal) error {
	old := c.portals[name]
	if old == nil {
		old = &portal{}
	}
	if err := c.keepText(len(old.sql), len(p.sql)); err != nil {
		return err
	}
	c.releaseResult(old)
	c.portals[name] = p
	return nil
}

func (c *conn) dropStatement(name string) {
	if o := c.stmts[name]; o != nil {
		c.kept -= len(o.sql)
		delete(c.stmts, name)
	}
}

func (c *conn) dropPortal(name string) {
	if o := c.portals[name]; o != nil {
		c.kept -= len(o.sql)
		c.releaseResult(o)
		delete(c.portals, name)
	}
}

// errRetainedSettings refuses a SET past maxRetainedText.
var errRetainedSettings = &pgError{code: "53000", msg: fmt.Sprintf("the settings, prepared statements and portals of this connection hold more than %d MiB of text: RESET some settings, or close statements (Close, DEALLOCATE)", maxRetainedText>>20)}

// keepSetting sets parameter name to v (for SHOW) within maxRetainedText.
func (c *conn) keepSetting(name, v string) error {
	old := 0
	if o, ok := c.settings[name]; ok {
		old = len(name) + len(o)
	}
	if c.keepText(old, len(name)+len(v)) != nil {
		return errRetainedSettings
	}
	c.settings[name] = v
	return nil
}

func (c *conn) dropSetting(name string) {
	if o, ok := c.settings[name]; ok {
		c.kept -= len(name) + len(o)
		delete(c.settings, name)
	}
}
