package query

import "github.com/auditlake/auditlake/internal/engine"

// StoreTable returns the quoted name under which a session registers the store id:
// "aws:cloudtrail"."<id>", ready to stand after FROM in internal SQL.
func StoreTable(id string) string { return engine.Ident(Schema) + "." + engine.Ident(id) }
