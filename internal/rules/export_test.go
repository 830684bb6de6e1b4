package rules

// SetSliceRows sets how many events h.Stream reads per query (huntSliceRows), so that tests
// cut a small store into several slices.
func SetSliceRows(h *Hunt, n int64) { h.sliceRows = n }
