package pgwire

// SetFaultHook sets the function every answered statement is given first (nil: none).
func SetFaultHook(f func(sql string)) { faultHook = f }
