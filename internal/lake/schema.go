package lake

import "strings"

func engineLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
