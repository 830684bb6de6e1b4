package ingest

// WithoutHeldFiles returns o writing a file per batch and date (Options.noHold), for the
// external tests whose inputs are shaped by those files' sizes.
func WithoutHeldFiles(o Options) Options {
	o.noHold = true
	return o
}
