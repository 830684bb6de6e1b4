package cloudtrail

// UseLibdeflate turns libdeflate off or back on (tests compare it with the Go path) and
// returns the number of files it has inflated so far.
func UseLibdeflate(on bool) (inflated int) {
	libdeflate.disabled.Store(!on)
	return int(libdeflate.inflated.Load())
}
