package ingest

import (
	"fmt"
	"strings"

	"github.com/auditlake/auditlake/internal/cloudtrail"
)

// count adds what one decoded file found to sum and its problems to probs, and records in the
// file's state whether it failed. Every record the file held is counted once: kept ones as
// they are committed (added or duplicates), dropped ones by the caller, and here the bad ones
// and the JSON values that are not CloudTrail records.
//
// A file fails when it cannot be read to its end or holds bad records; a file that is not JSON
// from its first byte on, with no record found in it, is "not CloudTrail JSON": one problem
// rather than one per line.
// A failed file's good records are kept, and it stays failed — read and reported again by
// every ingest — until it changes (lake.SourceState.Complete). A file of no bytes at all is
// read (it may grow) and reported as empty.
func (fd *fileDone) count(sum *Summary, probs *fileProblems) {
	st := &fd.stats
	uri := fd.state.URI
	sum.Records += st.Errors + st.Skipped
	sum.BadRecords += st.Errors
	sum.SkippedRecords += st.Skipped
	sum.Bytes += fd.bytes
	sum.Warnings += st.Warnings
	// Stats counts every problem; Problems keeps the first ones of each file.
	notCloudTrail := fd.err == nil && st.Records == 0 && st.Skipped == 0 && len(st.Problems) > 0 &&
		st.Problems[0].Record == 1 && strings.HasPrefix(st.Problems[0].Msg, "invalid JSON")
	if notCloudTrail {
		fd.state.Failed = "not CloudTrail JSON: " + problemText(st.Problems[0])
		sum.Errors++
		probs.add(fd.seq, cloudtrail.Problem{File: uri, Severity: cloudtrail.Error, Msg: fd.state.Failed})
	} else {
		sum.Errors += st.Errors
		for _, p := range st.Problems {
			probs.add(fd.seq, p)
		}
	}
	switch {
	case fd.err != nil:
		sum.Errors++
		fd.state.Problems++
		// The problem names the file; the decoder's error names it too.
		fd.state.Failed = strings.TrimPrefix(fd.err.Error(), fmt.Sprintf("decode %q: ", uri))
		probs.add(fd.seq, cloudtrail.Problem{File: uri, Severity: cloudtrail.Error, Msg: fd.state.Failed})
	case !notCloudTrail && st.Errors > 0:
		fd.state.Failed = fmt.Sprintf("%d bad records", st.Errors)
	}
	switch {
	case fd.state.Failed != "":
		sum.FilesFailed++
	case st.Bytes == 0 && st.Records == 0 && st.Skipped == 0:
		sum.FilesEmpty++
		sum.Warnings++
		probs.add(fd.seq, cloudtrail.Problem{File: uri, Severity: cloudtrail.Warning, Msg: "empty"})
	default:
		sum.FilesIngested++
	}
}

// problemText is a problem without its file name: where in the file, and what.
func problemText(p cloudtrail.Problem) string {
	if p.Record == 0 {
		return p.Msg
	}
	return fmt.Sprintf("record %d (line %d): %s", p.Record, p.Line, p.Msg)
}

// noFiles warns that listing src found no file of the kind named (e.g. "CloudTrail").
func (s *Summary) noFiles(src, kind string) {
	s.noFilesMsg(src, "no "+kind+" files found (files named *.json, *.jsonl or *.ndjson, gzipped or not, are read)")
}

// AddError reports an error about file found outside the run (a delivered file that is gone):
// it counts, and makes the run partial, as the run's own errors do.
func (s *Summary) AddError(file, msg string) {
	s.Errors++
	s.Problems = append(s.Problems, cloudtrail.Problem{File: file, Severity: cloudtrail.Error, Msg: msg})
}

// noFilesMsg warns that listing src found no file to read, in msg's words.
func (s *Summary) noFilesMsg(src, msg string) {
	s.Warnings++
	s.Problems = append(s.Problems, cloudtrail.Problem{File: src, Severity: cloudtrail.Warning, Msg: msg})
}
