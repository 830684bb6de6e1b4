package cloudtrail

// UseLibdeflate turns libdeflate off or back on (tests compare it with the Go path) and
// returns the number of files it has inflated so far.
func UseLibdeflate(on bool) (inflated int) {
	libdeflate.disabled.Store(!on)
	return int(libdeflate.inflated.Load())
}

// HashSixteen sets whether checksums are computed 16 at a time (sha256x16, when the CPU has
// AVX-512) or in pairs (sha256x2), and returns the setting it replaces.
func HashSixteen(on bool) (was bool) {
	was, hashSixteen = hashSixteen, on
	return was
}
