package pgwire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/dialect"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/server"
)

// conn is one authenticated session.
type conn struct {
	s *Server
	// revoked is set when a query found the principal no longer authenticated (the user or key
	// disabled or deleted since login): the connection is closed after its FATAL.
	revoked bool
	be      *pgproto3.Backend
	nc      net.Conn
	ctx     context.Context // carries the caller
	user    string
	app     string
	ssl     bool
	pid     uint32
	key     []byte
	types   *pgtype.Map
	stmts   map[string]*statement
	kept    int // the bytes of text of stmts and portals (retained.go)
	// keptResults is the size of the portals' results (retained.go).
	keptResults int
	portals     map[string]*portal
	settings    map[string]string // SET values, for SHOW
	tx          byte              // transaction status for ReadyForQuery: 'I' or 'T'
	skip        bool              // an extended-protocol error: ignore messages until Sync

	// active is the portal running now (runPortal): DISCARD ALL leaves it open, as PostgreSQL
	// leaves its active portal, so that the Execute that follows its Describe finds it.
	active *portal

	mu      sync.Mutex
	running context.CancelFunc // the running query's, for cancel requests

	cat   *catalog
	catAt time.Time

	// statement is the statement the client sent while answerPart answers a query that is part
	// of it: the audit log records it, not the query alone.
	statement string
}

// statement is a prepared statement (Parse).
type statement struct {
	sql       string
	paramOIDs []uint32 // as the client declared them, 0 = unspecified; len = parameters used
	// arrays says which parameters are the whole operand of ANY or ALL (parameterUses): an
	// unspecified one's {a,b} text is an array there.
	arrays    []bool
	fields    []pgproto3.FieldDescription
	described bool
}

// portal is a bound statement (Bind), run at its first Describe or Execute.
type portal struct {
	st      *statement
	sql     string // with its parameters bound
	formats []int16
	res     *answer
	resSize int // res's size as counted against maxRetainedResults (retained.go)
	sent    int // rows sent so far (Execute with a row limit suspends the portal)
	// cursor: the portal is an SQL cursor (DECLARE), read by FETCH; hold: declared WITH HOLD,
	// it outlives its transaction (cursor.go).
	cursor, hold bool
	described    bool // a Describe of the portal sent its own columns (not its statement's)
	// grants is the fingerprint of the principal's grants before the portal's query ran: a
	// FETCH, or an Execute that goes on after PortalSuspended, sends rows read then, so it is
	// refused once the grants changed (grantsUnchanged).
	grants string
}

// answer is the result of one statement: rows with a RowDescription, or a bare command tag.
type answer struct {
	cols []column
	rows [][]any
	tag  string // command tag without the row count for SELECT and COPY
	// copy: the rows go out as a COPY … TO STDOUT in this format (copy.go), not as DataRows.
	copy *copyOut
}

type column struct {
	name   string
	oid    uint32
	typmod int32
}

func (c *conn) sendStartup(params map[string]string) {
	c.types = pgtype.NewMap()
	ps := map[string]string{
		"server_version": serverVersion, "server_encoding": "UTF8", "client_encoding": "UTF8",
		"DateStyle": "ISO, MDY", "TimeZone": "UTC", "integer_datetimes": "on", "IntervalStyle": "postgres",
		"standard_conforming_strings": "on", "is_superuser": "off", "session_authorization": c.user,
		"application_name": params["application_name"], "default_transaction_read_only": "on",
		"in_hot_standby": "off",
	}
	for k, v := range ps {
		c.be.Send(&pgproto3.ParameterStatus{Name: k, Value: v})
	}
	c.be.Send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: c.key})
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.tx})
	c.be.Flush()
}

// serve reads and answers messages until the client goes away.
func (c *conn) serve() {
	defer func() {
		c.s.releaseCatalog(c.cat)
		c.dropPortals()
	}()
	for {
		msg, err := c.be.Receive()
		if err != nil {
			if malformed(err) {
				c.be.Send(fatal("08P01", "invalid message: "+err.Error()))
				c.be.Flush()
			}
			return
		}
		if c.skip {
			if _, ok := msg.(*pgproto3.Sync); !ok {
				if _, ok := msg.(*pgproto3.Terminate); ok {
					return
				}
				continue
			}
		}
		switch m := msg.(type) {
		case *pgproto3.Query:
			c.simpleQuery(m.String)
			if c.revoked {
				return
			}
			c.ready()
		case *pgproto3.Parse:
			c.extended(c.refused(m.Query, c.parse(m)))
		case *pgproto3.Bind:
			sql := c.statementSQL(m.PreparedStatement)
			c.extended(c.refused(sql, c.bind(m)))
		case *pgproto3.Describe:
			c.extended(c.describe(m))
		case *pgproto3.Execute:
			c.extended(c.execute(m))
		case *pgproto3.Close:
			if m.ObjectType == 'S' {
				c.dropStatement(m.Name)
			} else {
				c.dropPortal(m.Name)
			}
			c.be.Send(&pgproto3.CloseComplete{})
		case *pgproto3.Sync:
			c.skip = false
			c.dropPortal("")
			c.ready()
		case *pgproto3.Flush:
			c.be.Flush()
		case *pgproto3.Terminate:
			return
		default:
			c.be.Send(fatal("08P01", fmt.Sprintf("unsupported message %T", msg)))
			c.be.Flush()
			return
		}
		if c.revoked {
			return
		}
	}
}

// malformed reports whether a Receive error is a message the client got wrong (a bad length,
// a body without its terminator, an unknown type), not the connection ending: PostgreSQL
// answers those with FATAL 08P01 before it closes.
func malformed(err error) bool {
	var ne net.Error
	return !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) && !errors.As(err, &ne)
}

func (c *conn) ready() {
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.tx})
	c.be.Flush()
}

// extended sends an extended-protocol error and skips to the next Sync.
func (c *conn) extended(err error) {
	if err != nil {
		c.sendError(err)
		c.skip = true
	}
}

// simpleQuery runs each statement of a Query message, stopping at the first error.
func (c *conn) simpleQuery(sql string) {
	text, err := pgStrings(sql)
	stmts := []string(nil)
	if err == nil {
		stmts, err = splitStatements(text)
	}
	if err != nil {
		ctx, done := c.queryContext()
		_, err = c.itself(ctx, sql, false, func(context.Context) (*answer, error) {
			if _, ok := err.(*pgError); ok {
				return nil, err
			}
			return nil, &server.QueryError{Msg: "syntax error: " + err.Error()}
		})
		done()
		c.sendError(err)
		return
	}
	if len(stmts) == 0 {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return
	}
	for _, st := range stmts {
		a, err := c.run(st)
		if err != nil {
			c.sendError(err)
			return
		}
		if a.copy != nil {
			if err := c.sendCopy(a); err != nil {
				c.sendError(err)
				return
			}
			c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag(a, len(a.rows)))})
			continue
		}
		formats := make([]int16, len(a.cols))
		if a.cols != nil {
			c.be.Send(&pgproto3.RowDescription{Fields: fields(a.cols, formats)})
		}
		if err := c.sendRows(a, formats, 0, len(a.rows)); err != nil {
			c.sendError(err)
			return
		}
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag(a, len(a.rows)))})
	}
}

func tag(a *answer, n int) string {
	if a.tag == "SELECT" || a.tag == "COPY" {
		return fmt.Sprintf("%s %d", a.tag, n)
	}
	return a.tag
}

func fields(cols []column, formats []int16) []pgproto3.FieldDescription {
	out := make([]pgproto3.FieldDescription, len(cols))
	for i, col := range cols {
		out[i] = pgproto3.FieldDescription{Name: []byte(col.name), DataTypeOID: col.oid, DataTypeSize: typeSize(col.oid), TypeModifier: col.typmod}
		if formats != nil {
			out[i].Format = formats[i]
		}
	}
	return out
}

// sending registers the sending of a result as the connection's running statement, so that a
// cancel request stops it (57014) as PostgreSQL stops a result it is sending (psql's Ctrl-C in
// a long result); the result's send is checked at each flush. The returned func ends it.
func (c *conn) sending() (context.Context, func()) {
	ctx, cancel := context.WithCancel(c.ctx)
	return ctx, c.cancellable(cancel)
}

// sendRows sends rows [from, to) of a, flushing as it goes, until a cancel request.
func (c *conn) sendRows(a *answer, formats []int16, from, to int) error {
	ctx, done := c.sending()
	defer done()
	var buf []byte
	for i := from; i < to; i++ {
		row := a.rows[i]
		vals := make([][]byte, len(row))
		for j, v := range row {
			start := len(buf)
			var null bool
			var err error
			buf, null, err = encodeValue(c.types, a.cols[j].oid, formats[j], v, buf)
			if err != nil {
				return err
			}
			if !null {
				vals[j] = buf[start:len(buf):len(buf)]
				if vals[j] == nil {
					vals[j] = []byte{}
				}
			}
		}
		c.be.Send(&pgproto3.DataRow{Values: vals})
		buf = buf[:0:0]
		if (i-from)%1000 == 999 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := c.be.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// parse prepares a statement.
func (c *conn) parse(m *pgproto3.Parse) error {
	query, err := pgStrings(m.Query)
	if err != nil {
		if _, ok := err.(*pgError); ok {
			return err
		}
		return &server.QueryError{Msg: "syntax error: " + err.Error()}
	}
	if err := c.prepare(m.Name, query, m.ParameterOIDs); err != nil {
		return err
	}
	c.be.Send(&pgproto3.ParseComplete{})
	return nil
}

// prepare keeps query as prepared statement name, its parameters of the types declared (0:
// unspecified; the query's $n past them are unspecified too).
func (c *conn) prepare(name, query string, declared []uint32) error {
	n, err := paramCount(query)
	if err != nil {
		return &server.QueryError{Msg: "syntax error: " + err.Error()}
	}
	if len(declared) > n {
		n = len(declared)
	}
	if n > 65535 {
		return &pgError{code: "54000", msg: fmt.Sprintf("too many parameters: %d (at most 65535)", n)}
	}
	if _, ok := c.stmts[name]; !ok && name != "" && len(c.stmts) >= maxStatements {
		return &pgError{code: "53000", msg: fmt.Sprintf("too many prepared statements (%d): close some (DEALLOCATE, Close)", maxStatements)}
	}
	oids, arrays := parameterUses(query, n) // a parameter the client left untyped takes its cast's type
	for k, oid := range declared {
		if oid != 0 {
			oids[k] = oid
		}
	}
	return c.keepStatement(name, &statement{sql: query, paramOIDs: oids, arrays: arrays})
}

// bind binds a statement's parameters into a portal.
func (c *conn) bind(m *pgproto3.Bind) error {
	st := c.stmts[m.PreparedStatement]
	if st == nil {
		return &pgError{code: "26000", msg: fmt.Sprintf("prepared statement %q does not exist", m.PreparedStatement)}
	}
	if len(m.Parameters) != len(st.paramOIDs) {
		return &pgError{code: "08P01", msg: fmt.Sprintf("bind message supplies %d parameters, but prepared statement %q requires %d", len(m.Parameters), m.PreparedStatement, len(st.paramOIDs))}
	}
	if n := len(m.ParameterFormatCodes); n > 1 && n != len(m.Parameters) {
		return &pgError{code: "08P01", msg: fmt.Sprintf("bind message has %d parameter formats but %d parameters", n, len(m.Parameters))}
	}
	for _, f := range append(m.ParameterFormatCodes[:len(m.ParameterFormatCodes):len(m.ParameterFormatCodes)], m.ResultFormatCodes...) {
		if f != 0 && f != 1 {
			return &pgError{code: "22023", msg: fmt.Sprintf("unsupported format code: %d", f)}
		}
	}
	lits := make([]string, len(m.Parameters))
	for i, raw := range m.Parameters {
		format := int16(0)
		switch len(m.ParameterFormatCodes) {
		case 0:
		case 1:
			format = m.ParameterFormatCodes[0]
		default:
			if i < len(m.ParameterFormatCodes) {
				format = m.ParameterFormatCodes[i]
			}
		}
		if format == 0 && raw != nil && (bytes.IndexByte(raw, 0) >= 0 || !utf8.Valid(raw)) {
			// Text is UTF-8 without NUL, as PostgreSQL takes it: a NUL cut the statement short.
			return &pgError{code: "22021", msg: fmt.Sprintf("parameter $%d: invalid byte sequence for encoding \"UTF8\"", i+1)}
		}
		oid := st.paramOIDs[i]
		if oid == 0 && format == 0 && st.arrays[i] && bytes.HasPrefix(raw, []byte("{")) {
			oid = pgtype.TextArrayOID // x = ANY($1) with {a,b}: PostgreSQL infers an array
		}
		lit, err := paramLiteral(c.types, oid, format, raw)
		if err != nil {
			return &pgError{code: "22P02", msg: fmt.Sprintf("parameter $%d: %v", i+1, err)}
		}
		lits[i] = lit
	}
	sql, err := bindParams(st.sql, lits)
	if err != nil {
		return &server.QueryError{Msg: "syntax error: " + err.Error()}
	}
	if _, ok := c.portals[m.DestinationPortal]; !ok && m.DestinationPortal != "" && len(c.portals) >= maxPortals {
		return &pgError{code: "53000", msg: fmt.Sprintf("too many open portals (%d): close some", maxPortals)}
	}
	if err := c.keepPortal(m.DestinationPortal, &portal{st: st, sql: sql, formats: m.ResultFormatCodes}); err != nil {
		return err
	}
	c.be.Send(&pgproto3.BindComplete{})
	return nil
}

// resultFormats expands a Bind's result format codes to one per column.
func resultFormats(codes []int16, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		switch len(codes) {
		case 0:
		case 1:
			out[i] = codes[0]
		default:
			if i < len(codes) {
				out[i] = codes[i]
			}
		}
	}
	return out
}

// describe answers Describe: a statement's parameter types and columns (found by running it
// with NULL parameters and no rows), or a portal's columns (found by running it).
func (c *conn) describe(m *pgproto3.Describe) error {
	if m.ObjectType == 'S' {
		st := c.stmts[m.Name]
		if st == nil {
			return c.refused("", &pgError{code: "26000", msg: fmt.Sprintf("prepared statement %q does not exist", m.Name)})
		}
		if !st.described {
			nulls := make([]string, len(st.paramOIDs))
			for i := range nulls {
				nulls[i] = "NULL"
			}
			sql, err := bindParams(st.sql, nulls)
			if err != nil {
				return c.refused(st.sql, &server.QueryError{Msg: "syntax error: " + err.Error()})
			}
			a, err := c.runShape(sql)
			if err != nil {
				return err
			}
			if a.cols != nil {
				st.fields = fields(c.untypedParameters(st, a.cols), nil)
			}
			st.described = true
		}
		c.be.Send(&pgproto3.ParameterDescription{ParameterOIDs: st.paramOIDs})
		if st.fields == nil {
			c.be.Send(&pgproto3.NoData{})
		} else {
			c.be.Send(&pgproto3.RowDescription{Fields: st.fields})
		}
		return nil
	}
	p := c.portals[m.Name]
	if p == nil {
		return c.refused("", &pgError{code: "34000", msg: fmt.Sprintf("portal %q does not exist", m.Name)})
	}
	if err := c.runPortal(p); err != nil {
		return err
	}
	if p.res.cols == nil {
		c.be.Send(&pgproto3.NoData{})
	} else {
		c.be.Send(&pgproto3.RowDescription{Fields: fields(p.res.cols, resultFormats(p.formats, len(p.res.cols)))})
		p.described = true
	}
	return nil
}

// maxUntypedProbes bounds the Describe runs untypedParameters makes for one statement.
const maxUntypedProbes = 8

// untypedParameters finds the parameters of st the client left untyped that reach a column
// without a type of their own (SELECT $1, 'x' || $1), and returns cols, the statement's columns
// found with NULL parameters, with those columns as text. PostgreSQL types such a parameter, and
// its column, as text; the engine types a NULL as an integer, so pgx read 'abcd' by int4 and the
// execution failed. A parameter is probed by a Describe run with it bound to a string literal
// (which the engine casts where its context wants another type) and the others to NULL: a column
// that was an integer and is now text follows it, and the parameter is described, and then bound,
// as text (OID 25). Only statements with an integer column and untyped parameters are probed, at
// most maxUntypedProbes parameters; a probe that fails changes nothing.
func (c *conn) untypedParameters(st *statement, cols []column) []column {
	var untyped []int
	for i, oid := range st.paramOIDs {
		if oid == 0 {
			untyped = append(untyped, i)
		}
	}
	integer := false
	for _, col := range cols {
		integer = integer || col.oid == pgtype.Int4OID
	}
	if !integer || len(untyped) == 0 || len(untyped) > maxUntypedProbes {
		return cols
	}
	var out []column
	for _, k := range untyped {
		lits := make([]string, len(st.paramOIDs))
		for i := range lits {
			lits[i] = "NULL"
		}
		lits[k] = "''"
		sql, err := bindParams(st.sql, lits)
		if err != nil {
			return cols
		}
		a, err := c.runShape(sql)
		if err != nil || len(a.cols) != len(cols) {
			continue
		}
		for j, col := range a.cols {
			if cols[j].oid == pgtype.Int4OID && col.oid == pgtype.TextOID {
				if out == nil {
					out = append([]column(nil), cols...)
				}
				out[j] = column{name: cols[j].name, oid: pgtype.TextOID, typmod: -1}
				st.paramOIDs[k] = pgtype.TextOID
			}
		}
	}
	if out == nil {
		return cols
	}
	return out
}

func (c *conn) runPortal(p *portal) error {
	if p.res != nil {
		return nil
	}
	grants, err := c.grants()
	if err != nil {
		return c.refused(p.sql, err)
	}
	c.active = p
	a, err := c.run(p.sql)
	c.active = nil
	if err != nil {
		return err
	}
	p.grants = grants
	return c.keepResult(p, a)
}

// grants is the fingerprint of the grants of the connection's principal as they stand now
// (access.ErrUnauthenticated when it is no longer valid).
func (c *conn) grants() (string, error) {
	cl, _ := access.CallerFrom(c.ctx)
	p, err := c.s.reg.Current(cl.Principal)
	if err != nil {
		return "", err
	}
	return p.Fingerprint(), nil
}

// grantsUnchanged is nil when the principal's grants are those portal p's rows were read
// under, else an error: access is checked at each request, as Lake Formation does, so rows
// kept from before a revoke are not sent after it. The portal is closed.
func (c *conn) grantsUnchanged(name string, p *portal) error {
	now, err := c.grants()
	if err != nil {
		return err
	}
	if now == p.grants {
		return nil
	}
	c.dropPortal(name)
	what := "portal"
	if p.cursor {
		what = "cursor"
	}
	return &pgError{code: "42501", msg: fmt.Sprintf("permission denied: the grants of %s changed since %s %q read its rows; it is closed, run the query again", c.user, what, name)}
}

// execute runs a portal, sending at most MaxRows rows (0: all); a portal with rows left is
// suspended and the next Execute goes on.
func (c *conn) execute(m *pgproto3.Execute) error {
	p := c.portals[m.Portal]
	if p == nil {
		return c.refused("", &pgError{code: "34000", msg: fmt.Sprintf("portal %q does not exist", m.Portal)})
	}
	if strings.TrimSpace(p.sql) == "" || onlyTrivia(p.sql) {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	if p.sent > 0 { // an Execute going on after PortalSuspended: the rows were read earlier
		if err := c.refused(p.sql, c.grantsUnchanged(m.Portal, p)); err != nil {
			return err
		}
	}
	if err := c.runPortal(p); err != nil {
		return err
	}
	a := p.res
	if a.copy != nil { // all of it: a COPY's rows are no portal's to suspend
		if err := c.sendCopy(a); err != nil {
			return err
		}
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag(a, len(a.rows)))})
		return nil
	}
	a, changed, err := asDescribed(p, a)
	if err != nil {
		return err
	}
	end := len(a.rows)
	if m.MaxRows > 0 && p.sent+int(m.MaxRows) < end {
		end = p.sent + int(m.MaxRows)
	}
	if err := c.sendRows(a, resultFormats(p.formats, len(a.cols)), p.sent, end); err != nil {
		if changed != "" {
			return &pgError{code: "0A000", msg: "cached plan must not change result type: " + changed}
		}
		return err
	}
	p.sent = end
	if end < len(a.rows) {
		c.be.Send(&pgproto3.PortalSuspended{})
		return nil
	}
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag(a, len(a.rows)))})
	return nil
}

// asDescribed is a, a portal's result, with the column types the portal's statement was
// described with when the client learnt them from that Describe (not from the portal's own):
// it chose its result formats by them and decodes by them. The statement's Describe ran it with
// NULL parameters, and a column that then typed as an integer (SELECT $1, 'x' || $1) is text
// once the parameter has its value: sent as text in a format chosen for int4, "abcd" read as
// the number 1633837924. A value is sent as the described type when it converts (an int8 that
// fits an int4); changed names the columns whose type moved, for the error when one does not.
// A different number of columns is PostgreSQL's 0A000.
func asDescribed(p *portal, a *answer) (*answer, string, error) {
	if p.described || p.st == nil || !p.st.described || p.st.fields == nil || a.cols == nil {
		return a, "", nil
	}
	fs := p.st.fields
	if len(fs) != len(a.cols) {
		return nil, "", &pgError{code: "0A000", msg: fmt.Sprintf("cached plan must not change result type: the statement was described with %d columns and returns %d", len(fs), len(a.cols))}
	}
	var cols []column
	var changed []string
	for j, f := range fs {
		if f.DataTypeOID == a.cols[j].oid {
			continue
		}
		if cols == nil {
			cols = append([]column(nil), a.cols...)
		}
		cols[j] = column{name: a.cols[j].name, oid: f.DataTypeOID, typmod: f.TypeModifier}
		changed = append(changed, fmt.Sprintf("column %q was described as %s and is %s (give it a type: $1::text, CAST(… AS VARCHAR))",
			a.cols[j].name, formatName(f.DataTypeOID), formatName(a.cols[j].oid)))
	}
	if cols == nil {
		return a, "", nil
	}
	return &answer{cols: cols, rows: a.rows, tag: a.tag}, strings.Join(changed, "; "), nil
}

// pgError is an error with its SQLSTATE.
type pgError struct{ code, msg string }

func (e *pgError) Error() string { return e.msg }

// sendError sends err as an ErrorResponse with the SQLSTATE its kind maps to.
func (c *conn) sendError(err error) {
	var (
		pe   *pgError
		qe   *server.QueryError
		tl   *server.ResultTooLargeError
		busy *server.BusyError
		dam  *server.DamagedError
	)
	if errors.Is(err, access.ErrUnauthenticated) || errors.Is(err, server.ErrUnauthorized) {
		// As at login, the answer never says why (disabled, deleted, expired).
		c.be.Send(fatal("28000", "authentication of user \""+c.user+"\" is no longer valid"))
		c.be.Flush()
		c.revoked = true
		return
	}
	code, msg := "XX000", "internal error"
	switch {
	case errors.As(err, &pe):
		code, msg = pe.code, pe.msg
	case errors.Is(err, context.Canceled):
		code, msg = "57014", "canceling statement due to user request"
	case errors.Is(err, context.DeadlineExceeded):
		code, msg = "57014", "canceling statement due to statement timeout"
	case errors.As(err, &qe):
		code, msg = "42000", qe.Msg
		low := strings.ToLower(qe.Msg)
		switch {
		case strings.Contains(low, "does not exist") || strings.Contains(low, "not found") || strings.Contains(low, "cannot be resolved"):
			code = "42P01"
			if strings.Contains(low, "column") {
				code = "42703"
			}
		case strings.Contains(low, "syntax") || strings.Contains(low, "parse"):
			code = "42601"
		case strings.Contains(low, "unrecognized configuration parameter"):
			code, msg = "42704", qe.Msg[strings.Index(low, "unrecognized configuration parameter"):] // current_setting()
		case strings.Contains(low, "only select"):
			code = "25006" // read_only_sql_transaction
		}
	case errors.As(err, &tl):
		code, msg = "54000", tl.Msg
	case errors.As(err, &busy):
		code, msg = "53000", busy.Msg
	case errors.As(err, &dam):
		code, msg = "58000", dam.Msg
	case errors.Is(err, server.ErrNotFound):
		code, msg = "42P01", err.Error()
	default:
		c.s.log.Error("postgres query failed", "user", c.user, "err", err)
	}
	c.be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: code, Message: msg})
}

// cancelRunning cancels the running query, if any.
func (c *conn) cancelRunning() {
	c.mu.Lock()
	if c.running != nil {
		c.running()
	}
	c.mu.Unlock()
}

// queryContext is the context of one query: the caller's, the query timeout (the server's, or
// the connection's statement_timeout when shorter), and cancellable by a cancel request.
func (c *conn) queryContext() (context.Context, func()) {
	// One context: a second made in place of the first would leave the first registered with
	// the server's context, never cancelled, until the server stops.
	var (
		ctx    context.Context
		cancel context.CancelFunc
	)
	timeout := c.s.opts.Timeout
	if st := c.statementTimeout(); st > 0 && (timeout <= 0 || st < timeout) {
		timeout = st // the client's statement_timeout, within the server's
	}
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(c.ctx, timeout)
	} else {
		ctx, cancel = context.WithCancel(c.ctx)
	}
	return ctx, c.cancellable(cancel)
}

// cancellable makes cancel the one a cancel request calls, until the returned func, which
// calls it too.
func (c *conn) cancellable(cancel context.CancelFunc) func() {
	c.mu.Lock()
	c.running = cancel
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.running = nil
		c.mu.Unlock()
		cancel()
	}
}

// run answers one statement: session commands here, catalog queries from the catalog, every
// other query from the backend under the caller's identity.
func (c *conn) run(sql string) (*answer, error) {
	return c.answer(sql, false)
}

// runShape answers a statement's columns without its rows (Describe of a statement): a query
// runs wrapped in a LIMIT 0.
func (c *conn) runShape(sql string) (*answer, error) {
	return c.answer(sql, true)
}

// answerPart answers query, the query of statement sql as the client sent it (a DECLARE … CURSOR
// FOR query, a COPY (query) TO STDOUT): query runs, and is classified (its tables), as any
// other, and the audit log records its entry with the text sql, so that an auditor sees the
// statement that was sent.
func (c *conn) answerPart(sql, query string, shape bool) (*answer, error) {
	c.statement = sql
	defer func() { c.statement = "" }()
	return c.answer(query, shape)
}

func (c *conn) answer(sql string, shape bool) (*answer, error) {
	if faultHook != nil {
		faultHook(sql)
	}
	ctx, done := c.queryContext()
	defer done()
	if c.statement != "" {
		ctx = server.WithStatement(ctx, c.statement)
	}
	toks, err := dialect.Tokens(sql)
	if err != nil {
		return c.itself(ctx, sql, shape, func(context.Context) (*answer, error) {
			return nil, &pgError{code: "42601", msg: "syntax error: " + err.Error()}
		})
	}
	if firstWord(toks) == "" {
		return &answer{tag: ""}, nil // nothing to run (only comments): nothing to audit
	}
	if firstWord(toks) == "COPY" {
		return c.copyStatement(sql, toks, shape)
	}
	if firstWord(toks) == "DECLARE" {
		return c.declare(sql, toks, shape)
	}
	if firstWord(toks) == "PREPARE" {
		return c.prepareStatement(sql, toks, shape)
	}
	if firstWord(toks) == "EXECUTE" {
		return c.executeStatement(sql, toks, shape)
	}
	if isCursorCommand(toks) {
		return c.itself(ctx, sql, shape, func(context.Context) (*answer, error) { return c.cursorCommand(toks, shape) })
	}
	if sessionCommand(toks) {
		return c.itself(ctx, sql, shape, func(context.Context) (*answer, error) { return c.session(toks, shape) })
	}
	q := sql
	if shape {
		q = "SELECT * FROM (\n" + strings.TrimRight(strings.TrimSpace(sql), ";") + "\n) AS \"shape\" LIMIT 0"
	}
	var res *server.Result
	var cat *catalog
	if isCatalogQuery(toks) {
		if cat, err = c.catalog(ctx); err != nil {
			return c.itself(ctx, sql, shape, func(context.Context) (*answer, error) { return nil, err })
		}
		if namesDataTable(toks, cat.schemas) {
			cat = nil // a data query that also calls a catalog function: the data path answers
		}
	}
	if cat != nil {
		return c.itself(ctx, sql, shape, func(ctx context.Context) (*answer, error) {
			res, err := cat.run(ctx, q, c.info(), engine.Limits{MaxRows: c.s.opts.MaxRows, Timeout: c.s.opts.Timeout})
			if err != nil && ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				return nil, err
			}
			return resultAnswer(res), nil
		})
	}
	if q, err = regexOperators(q, dataRegex); err != nil {
		var pe *pgError
		if !errors.As(err, &pe) {
			err = &pgError{code: "42601", msg: "syntax error: " + err.Error()}
		}
		return c.itself(ctx, sql, shape, func(context.Context) (*answer, error) { return nil, err })
	}
	if shape {
		ctx = describing(ctx)
	}
	res, err = c.query(ctx, q)
	if err != nil && ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return resultAnswer(res), nil
}

// resultAnswer is the answer of a query's result.
func resultAnswer(res *server.Result) *answer {
	a := &answer{tag: "SELECT", rows: res.Rows, cols: make([]column, len(res.Columns))}
	for i, col := range res.Columns {
		oid, mod := pgType(col.Type)
		a.cols[i] = column{name: col.Name, oid: oid, typmod: mod}
	}
	return a
}

// itself answers sql with fn, a statement the door answers without the backend's Query (a
// session command, a catalog query, a statement refused before it reaches the engine), through
// the backend's Answer: as the connection's principal, refused as a query would be, and
// recorded in the audit log like a query (a Describe run marked as such).
func (c *conn) itself(ctx context.Context, sql string, shape bool, fn func(context.Context) (*answer, error)) (*answer, error) {
	if shape {
		ctx = describing(ctx)
	}
	var (
		a    *answer
		ferr error // fn's own error, as the client gets it
	)
	err := whenNotBusy(ctx, func() error {
		return c.s.b.Answer(ctx, sql, func(ctx context.Context) (int, error) {
			a, ferr = fn(ctx)
			if ferr != nil {
				var pe *pgError
				if errors.As(ferr, &pe) {
					return 0, &server.QueryError{Msg: pe.msg} // the statement is wrong, as the engine says of a query
				}
				return 0, ferr
			}
			return len(a.rows), nil
		})
	})
	if ferr != nil {
		return nil, ferr
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// refused records err, the refusal of an extended-protocol message (Parse, Bind, Describe,
// Execute) before any statement ran, in the audit log as a failed statement of text sql (the
// prepared statement's; "" when the message names none that exists), through the backend's
// Answer like every other statement: a client probing the door with malformed messages leaves
// a trace. nil stays nil.
func (c *conn) refused(sql string, err error) error {
	if err == nil {
		return nil
	}
	ctx, done := c.queryContext()
	defer done()
	_, err = c.itself(ctx, sql, false, func(context.Context) (*answer, error) { return nil, err })
	return err
}

// statementSQL is the text of prepared statement name, "" when there is none.
func (c *conn) statementSQL(name string) string {
	if st := c.stmts[name]; st != nil {
		return st.sql
	}
	return ""
}

// sessionCommand says whether toks are a statement the door answers from the session alone.
func sessionCommand(toks []dialect.Token) bool {
	switch firstWord(toks) {
	case "SET", "RESET", "SHOW", "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT",
		"DISCARD", "DEALLOCATE", "SAVEPOINT", "RELEASE", "LISTEN", "UNLISTEN":
		return true
	}
	return false
}

// session answers a session command (sessionCommand): SET and RESET change what SHOW shows,
// BEGIN and COMMIT the transaction status; a Describe run (shape) changes nothing.
func (c *conn) session(toks []dialect.Token, shape bool) (*answer, error) {
	switch w := firstWord(toks); w {
	case "SET", "RESET":
		if !shape {
			if err := c.set(words(toks)); err != nil {
				return nil, err
			}
		}
		return &answer{tag: w}, nil
	case "SHOW":
		return c.show(words(toks))
	case "BEGIN", "START":
		if !shape {
			c.tx = 'T'
		}
		return &answer{tag: "BEGIN"}, nil
	case "COMMIT", "END", "ROLLBACK", "ABORT":
		if w := words(toks); len(w) > 1 && strings.EqualFold(w[1].Text, "TO") {
			return &answer{tag: "ROLLBACK"}, nil // ROLLBACK TO SAVEPOINT: the transaction goes on
		}
		if !shape {
			c.tx = 'I'
			c.closeCursors(false) // a cursor WITHOUT HOLD ends with its transaction
		}
		if w == "END" {
			w = "COMMIT"
		} else if w == "ABORT" {
			w = "ROLLBACK"
		}
		return &answer{tag: w}, nil
	case "DEALLOCATE":
		return c.deallocate(words(toks), shape)
	case "DISCARD":
		if w := words(toks); len(w) > 1 && w[1].Text != ";" {
			what := strings.ToUpper(w[1].Text)
			if what == "ALL" && !shape {
				c.discardAll()
			}
			return &answer{tag: "DISCARD " + what}, nil
		}
		return &answer{tag: w}, nil
	case "SAVEPOINT", "RELEASE", "LISTEN", "UNLISTEN":
		return &answer{tag: w}, nil
	}
	return nil, fmt.Errorf("%s is no session command", firstWord(toks))
}

// deallocate answers DEALLOCATE [PREPARE] name | ALL: the prepared statement (or all of them) is
// closed, as a Close message closes it (psycopg 3 closes the statements it prepared this way).
func (c *conn) deallocate(w []dialect.Token, shape bool) (*answer, error) {
	if n := len(w); n > 0 && w[n-1].Text == ";" {
		w = w[:n-1]
	}
	if len(w) > 1 && strings.EqualFold(w[1].Text, "PREPARE") && w[1].Kind == dialect.TokenIdent {
		w = w[1:]
	}
	if len(w) != 2 {
		return nil, &pgError{code: "42601", msg: "syntax error: DEALLOCATE name or DEALLOCATE ALL"}
	}
	if w[1].Kind == dialect.TokenIdent && strings.EqualFold(w[1].Text, "ALL") {
		if !shape {
			for name := range c.stmts {
				c.dropStatement(name)
			}
		}
		return &answer{tag: "DEALLOCATE ALL"}, nil
	}
	name, ok := cursorName(w[1])
	if !ok {
		return nil, &pgError{code: "42601", msg: "syntax error: DEALLOCATE name or DEALLOCATE ALL"}
	}
	if _, ok := c.stmts[name]; !ok {
		return nil, &pgError{code: "26000", msg: fmt.Sprintf("prepared statement %q does not exist", name)}
	}
	if !shape {
		c.dropStatement(name)
	}
	return &answer{tag: "DEALLOCATE"}, nil
}

// discardAll answers DISCARD ALL, which connection pools send before they hand a connection to
// another user of theirs: every portal and cursor closed (but the one running the DISCARD ALL
// through the extended protocol), every prepared statement closed, every setting reset.
func (c *conn) discardAll() {
	for name, p := range c.portals {
		if p != c.active {
			c.dropPortal(name)
		}
	}
	for name := range c.stmts {
		c.dropStatement(name)
	}
	for name := range c.settings {
		c.reset(name)
	}
}

// describeMark ends the user agent of a statement's Describe run, so that its audit entry (a
// LIMIT 0 run of the statement, no rows read) is told from the statement's execution.
const describeMark = " [Describe]"

// describing is ctx with its caller's user agent marked as a Describe run.
func describing(ctx context.Context) context.Context {
	cl, ok := access.CallerFrom(ctx)
	if !ok {
		return ctx
	}
	cl.UserAgent += describeMark
	return access.WithCaller(ctx, cl)
}

// query runs q on the backend. A query the backend refuses for want of capacity (too many
// requests of this principal or of all) waits and tries again until its context ends: a
// Postgres client does not retry, and a Postgres server queues rather than refuses.
func (c *conn) query(ctx context.Context, q string) (res *server.Result, err error) {
	err = whenNotBusy(ctx, func() error {
		res, err = c.s.b.Query(ctx, q, c.s.opts.MaxRows)
		return err
	})
	return res, err
}

// whenNotBusy runs fn, again and again while the backend refuses it for want of capacity,
// until ctx ends.
func whenNotBusy(ctx context.Context, fn func() error) error {
	wait := 20 * time.Millisecond
	for {
		err := fn()
		var busy *server.BusyError
		if !errors.As(err, &busy) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

func (c *conn) info() sessionInfo {
	return sessionInfo{user: c.user, pid: c.pid, ssl: c.ssl}
}

// catalogTTL is how long a connection's catalog is trusted before the tables are listed again.
const catalogTTL = 10 * time.Second

// catalog returns the connection's catalog, built (again) when the principal's tables changed.
func (c *conn) catalog(ctx context.Context) (*catalog, error) {
	if c.cat != nil && time.Since(c.catAt) < catalogTTL {
		return c.cat, nil
	}
	var tables []server.Table
	err := whenNotBusy(ctx, func() (err error) {
		tables, err = c.s.b.Tables(ctx) // a session of the principal's: admitted like a query
		return err
	})
	if err != nil {
		return nil, err
	}
	if c.cat != nil && c.cat.key == tablesKey(tables) {
		c.catAt = time.Now()
		return c.cat, nil
	}
	names := map[string]string{}
	if stores, err := c.s.b.Stores(ctx); err == nil {
		for _, st := range stores {
			names[dialect.CloudTrailCatalog+"."+st.ID] = "event data store " + st.Name
			names[dialect.CloudTrailCatalog+"."+st.Name] = "event data store " + st.Name + " (" + st.ID + ")"
		}
	}
	cat, err := c.s.acquireCatalog(ctx, tables, names, c.info())
	if err != nil {
		return nil, err
	}
	c.s.releaseCatalog(c.cat)
	c.cat, c.catAt = cat, time.Now()
	return cat, nil
}

// set records SET name = value / SET name TO value / RESET name for SHOW; nothing else changes.
// As in PostgreSQL, a name that is no parameter is error 42704 (a custom name with a dot is one),
// and a read-only parameter is 55P02. SQL's own forms (SET TIME ZONE, SET NAMES, SET SCHEMA, SET
// ROLE, SET SESSION AUTHORIZATION, SET TRANSACTION, SET SESSION CHARACTERISTICS …) are accepted.
func (c *conn) set(w []dialect.Token) error {
	if len(w) < 2 {
		return nil
	}
	i := 1
	if strings.EqualFold(w[0].Text, "SET") && (strings.EqualFold(w[i].Text, "SESSION") || strings.EqualFold(w[i].Text, "LOCAL")) &&
		i+1 < len(w) && !strings.EqualFold(w[i+1].Text, "AUTHORIZATION") && !strings.EqualFold(w[i+1].Text, "CHARACTERISTICS") {
		i++
	}
	if i >= len(w) {
		return nil
	}
	first := strings.ToUpper(w[i].Text)
	name, n := settingName(w[i:])
	if strings.EqualFold(w[0].Text, "RESET") {
		switch first {
		case "ALL":
			for k := range c.settings {
				c.reset(k)
			}
			return nil
		case "TIME":
			name = "timezone" // RESET TIME ZONE
		case "SESSION":
			name = "session_authorization" // RESET SESSION AUTHORIZATION
		}
		if err := settable(name); err != nil {
			return err
		}
		c.reset(name)
		return nil
	}
	if v := i + n; v+1 < len(w) && (w[v].Text == "=" || strings.EqualFold(w[v].Text, "TO")) {
		if err := settable(name); err != nil {
			return err
		}
		value := settingValue(w[v+1:])
		if w[v+1].Kind == dialect.TokenIdent && strings.EqualFold(value, "DEFAULT") {
			c.reset(name) // SET x TO DEFAULT is RESET x
			return nil
		}
		if err := checkSetting(name, value); err != nil {
			return err
		}
		return c.keepSetting(name, value)
	}
	switch first {
	case "TIME", "NAMES":
		// SET TIME ZONE x and SET NAMES x: SQL's spellings of SET timezone and client_encoding,
		// whose values are checked as theirs (LOCAL and DEFAULT reset them).
		name, rest := "client_encoding", w[i+1:]
		if first == "TIME" {
			if len(rest) == 0 || !strings.EqualFold(rest[0].Text, "ZONE") {
				return &pgError{code: "42601", msg: "syntax error: SET TIME ZONE value"}
			}
			name, rest = "timezone", rest[1:]
		}
		value := settingValue(rest)
		if strings.EqualFold(value, "LOCAL") || strings.EqualFold(value, "DEFAULT") || value == "" {
			c.reset(name)
			return nil
		}
		if err := checkSetting(name, value); err != nil {
			return err
		}
		return c.keepSetting(name, value)
	case "SCHEMA", "ROLE", "SESSION", "TRANSACTION", "XML", "SEED", "CONSTRAINTS":
		return nil // SQL's forms: SET SCHEMA 'x', SET ROLE, …
	}
	return settable(name)
}

// settingValue is the value of SET name TO value: its words, a string literal's text unquoted.
func settingValue(w []dialect.Token) string {
	var parts []string
	for _, t := range w {
		if t.Kind == dialect.TokenString {
			parts = append(parts, strings.ReplaceAll(t.Text[1:len(t.Text)-1], "''", "'"))
		} else if t.Text != ";" {
			parts = append(parts, t.Text)
		}
	}
	return strings.Join(parts, " ")
}

// reset gives the parameter name its default again. A custom "x.y" parameter, once set, stays
// with an empty value (PostgreSQL's placeholder): SHOW answers it.
func (c *conn) reset(name string) {
	if strings.Contains(name, ".") {
		c.keepSetting(name, "") // never more than it held
		return
	}
	c.dropSetting(name)
}

// settingName is the (lower-case) parameter name at the start of w, a custom "x.y" one
// included, and how many tokens it takes.
func settingName(w []dialect.Token) (string, int) {
	name := strings.ToLower(strings.Trim(w[0].Text, `"`))
	n := 1
	for n+1 < len(w) && w[n].Text == "." {
		name += "." + strings.ToLower(strings.Trim(w[n+1].Text, `"`))
		n += 2
	}
	return name, n
}

// settable is nil when SET may set the parameter name, else PostgreSQL's error for it.
func settable(name string) error {
	switch {
	case pgPresetParameters[name]:
		return &pgError{code: "55P02", msg: fmt.Sprintf("parameter %q cannot be changed", name)}
	case pgParameters[name] || strings.Contains(name, "."):
		return nil
	}
	return unrecognizedParameter(name)
}

func unrecognizedParameter(name string) error {
	return &pgError{code: "42704", msg: fmt.Sprintf("unrecognized configuration parameter %q", name)}
}

// showAliases are the SQL-standard names SHOW accepts for settings (PostgreSQL's guc.c).
var showAliases = map[string]string{
	"transaction isolation level": "transaction_isolation", "time zone": "timezone",
	"session authorization": "session_authorization",
}

// show answers SHOW name and SHOW ALL. A name that is no parameter is PostgreSQL's error
// 42704, as is a custom "x.y" never set; a PostgreSQL parameter the server does not emulate
// answers an empty string.
func (c *conn) show(w []dialect.Token) (*answer, error) {
	text := column{oid: pgtype.TextOID, typmod: -1}
	get := func(name string) (string, bool) {
		if v, ok := c.settings[name]; ok {
			return v, true
		}
		switch name {
		case "ssl":
			if c.ssl {
				return "on", true
			}
		case "application_name":
			return c.app, true
		case "session_authorization":
			return c.user, true
		}
		v, ok := defaultSettings[name]
		return v, ok
	}
	if len(w) < 2 || strings.EqualFold(w[1].Text, "ALL") {
		names := map[string]bool{}
		for k := range defaultSettings {
			names[k] = true
		}
		for k := range c.settings {
			names[k] = true
		}
		a := &answer{tag: "SHOW", cols: []column{{name: "name", oid: pgtype.TextOID, typmod: -1}, {name: "setting", oid: pgtype.TextOID, typmod: -1}, {name: "description", oid: pgtype.TextOID, typmod: -1}}}
		for _, k := range sortedKeys(names) {
			v, _ := get(k)
			a.rows = append(a.rows, []any{k, v, ""})
		}
		return a, nil
	}
	var parts []string
	for _, t := range w[1:] {
		if t.Text == ";" {
			continue
		}
		parts = append(parts, strings.Trim(t.Text, `"`))
	}
	name := strings.ToLower(strings.Join(parts, ""))
	if alias, ok := showAliases[strings.ToLower(strings.Join(parts, " "))]; ok {
		name = alias // SHOW TRANSACTION ISOLATION LEVEL, SHOW TIME ZONE: SQL's spellings
	}
	text.name = name
	v, ok := get(name)
	if !ok && !pgParameters[name] && !pgPresetParameters[name] {
		return nil, unrecognizedParameter(name)
	}
	return &answer{tag: "SHOW", cols: []column{text}, rows: [][]any{{v}}}, nil
}

// faultHook, set only by tests, is called with each statement a connection answers: a test
// makes it panic to prove that a fault ends its connection and not the server.
var faultHook func(sql string)
