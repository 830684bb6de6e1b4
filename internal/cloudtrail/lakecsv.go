package cloudtrail

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// LakeEventColumn is the CloudTrail Lake column that holds the whole event as delivered.
const LakeEventColumn = "eventjson"

// DecodeLakeExport reads one CloudTrail Lake query result file — CSV, gzip-compressed (told by
// its magic bytes, as Lake delivers result_N.csv.gz) or plain, whose first row names the
// columns — and calls emit for the CloudTrail record in each row's eventjson column (its name
// matched case-insensitively; other columns, in any order, are ignored). Problems, Stats and
// the error follow Decode, with a row as the item: Problem.Record is the row's number (1 is
// the first row after the header) and Problem.Line the line of the file it starts on.
//
// A row whose eventjson is empty (NULL), not JSON, not a CloudTrail record, or more than one
// record is an Error and dropped; the rows around it are kept. A file without an eventjson
// column, CSV that cannot be parsed (an unbalanced quote), or input cut short (a truncated
// gzip) ends decoding with an error naming the row after which it happened; the rows before
// it were emitted.
func DecodeLakeExport(r io.Reader, name string, opts DecodeOptions, emit func(*Record) error) (Stats, error) {
	if opts.MaxProblems == 0 {
		opts.MaxProblems = DefaultMaxProblems
	}
	var st Stats
	err := decodeLakeCSV(r, name, opts, &st, emit)
	if err != nil {
		err = fmt.Errorf("decode %q: %w", name, err)
	}
	return st, err
}

func decodeLakeCSV(r io.Reader, name string, opts DecodeOptions, st *Stats, emit func(*Record) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var src io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("read gzip header: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	cnt := &countingReader{r: src, limit: opts.MaxDecompressedBytes}
	defer func() { st.Bytes = cnt.n }()
	text := bufio.NewReaderSize(cnt, 64<<10)
	if bom, _ := text.Peek(3); bytes.Equal(bom, []byte("\ufeff")) {
		text.Discard(3)
	}
	cr := csv.NewReader(text)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil // no bytes, or no row at all: an empty file
	}
	if err != nil {
		return fmt.Errorf("read the header row: %w", err)
	}
	col := -1
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(h), LakeEventColumn) {
			col = i
			break
		}
	}
	if col < 0 {
		return fmt.Errorf("no %s column in the header row (columns: %s): the Lake query must select %s",
			LakeEventColumn, columnList(header), LakeEventColumn)
	}
	inner := DecodeOptions{MaxRecordBytes: opts.MaxRecordBytes, MaxDepth: opts.MaxDepth, MaxProblems: 16,
		MaxInMemoryBytes: opts.MaxInMemoryBytes, Reserve: opts.Reserve}
	problem := func(p Problem) {
		if opts.MaxProblems < 0 || len(st.Problems) < opts.MaxProblems {
			st.Problems = append(st.Problems, p)
		}
		if p.Severity == Warning {
			st.Warnings++
		}
	}
	var got []*Record
	collect := func(rec *Record) error {
		got = append(got, rec)
		return nil
	}
	row := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			switch {
			case errors.As(err, &pe) && (errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote)):
				return fmt.Errorf("row %d (line %d): not valid CSV: %w", row+1, pe.StartLine, pe.Err)
			case errors.Is(err, io.ErrUnexpectedEOF):
				return fmt.Errorf("cut short after row %d: %w", row, err)
			}
			return fmt.Errorf("read after row %d: %w", row, err)
		}
		row++
		line, _ := cr.FieldPos(0)
		bad := func(msg string) {
			st.Errors++
			problem(Problem{File: name, Record: row, Line: line, Severity: Error, Msg: msg})
		}
		if col >= len(rec) {
			bad(fmt.Sprintf("the row has %d fields, no %s (field %d of the header)", len(rec), LakeEventColumn, col+1))
			continue
		}
		cell := rec[col]
		if strings.TrimSpace(cell) == "" {
			bad(LakeEventColumn + " is empty")
			continue
		}
		got = got[:0]
		ist, derr := Decode(strings.NewReader(cell), name, inner, collect)
		// The cell's own problems, placed at its row.
		var errs []string
		for _, p := range ist.Problems {
			p.Record, p.Line = row, line
			if p.Severity == Error {
				errs = append(errs, p.Msg)
				continue
			}
			if len(got) == 1 && ist.Errors == 0 && derr == nil {
				p.Msg = LakeEventColumn + ": " + p.Msg
				problem(p) // a warning about a record that is kept
			}
		}
		switch {
		case derr != nil:
			bad(fmt.Sprintf("%s is not a whole JSON value: %s", LakeEventColumn, strings.TrimPrefix(derr.Error(), fmt.Sprintf("decode %q: ", name))))
		case len(errs) > 0:
			bad(fmt.Sprintf("%s: %s", LakeEventColumn, strings.Join(errs, "; ")))
		case len(got) == 0:
			bad(fmt.Sprintf("%s is not a CloudTrail record: %s", LakeEventColumn, describeCell(cell)))
		case len(got) > 1:
			bad(fmt.Sprintf("%s holds %d records, not one", LakeEventColumn, len(got)))
		default:
			st.Records++
			if opts.Keep != nil && !opts.Keep(got[0]) {
				continue
			}
			if err := emit(got[0]); err != nil {
				return err
			}
		}
	}
}

// columnList renders a header for an error message: the first columns, quoted.
func columnList(header []string) string {
	const most = 12
	var b strings.Builder
	for i, h := range header {
		if i == most {
			fmt.Fprintf(&b, ", … (%d in all)", len(header))
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", h)
	}
	return b.String()
}

// describeCell shows the start of a cell that is not a record.
func describeCell(cell string) string {
	cell = strings.TrimSpace(cell)
	if len(cell) > 60 {
		cut := 60
		for cut > 0 && cell[cut]&0xc0 == 0x80 { // not inside a UTF-8 sequence
			cut--
		}
		cell = cell[:cut] + "…"
	}
	return fmt.Sprintf("%q", cell)
}
