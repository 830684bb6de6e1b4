package cost

// DirectViewSQL is t's view reading its CSV (or Parquet) files themselves, as every query did
// before CSV files were converted: the reference the converted files are compared with.
func DirectViewSQL(t Table) (string, error) {
	t.Files = withoutCache(t.Files)
	return viewSQL(t, localPaths(t.Files))
}

// SetConvertHook sets the hook a conversion runs between writing its temporary file and
// renaming it into place; nil removes it.
func SetConvertHook(fn func(tmp string) error) { convertHook = fn }
