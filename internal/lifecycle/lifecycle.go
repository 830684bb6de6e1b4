// Package lifecycle defines the EC2 lifecycle facts of CloudTrail events: the launched
// instances of each RunInstances and CreateFleet call, the instances ended by
// TerminateInstances or a Spot interruption, and launch template changes, with the fields the
// compliance reports need already taken out of the events' JSON.
//
// The definition is one SQL query (facts.sql): the lake keeps its result beside every data file
// (so a report reads a few plain columns instead of the JSON of every EC2 event in the store),
// and the reports run it over the events themselves when a store's files were written before
// the facts existed. Ingest computes the same rows from the decoded records, without the engine
// (Of, in facts.go); internal/ingest's TestFactsFromGoMatchTheQuery holds the two equal.
package lifecycle

import (
	_ "embed"
	"strings"
)

//go:embed facts.sql
var factsSQL string

// Version identifies the definition in facts.sql. Change it with the definition: the lake
// recomputes facts written under another version, and the reports do not read them.
const Version = 1

// SQL returns the query of the facts of events, a relation (table, view or parenthesised
// subquery) with the CloudTrail Lake schema.
func SQL(events string) string {
	return strings.ReplaceAll(factsSQL, "{{.Events}}", events)
}
