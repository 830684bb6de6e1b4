package dialect

import (
	"fmt"
	"strings"
)

// mysqlSpecs maps the MySQL-style specifiers of Trino's date_format/date_parse to DuckDB's
// strftime/strptime. Trino rejects %D %U %u %V %w %X; specifiers it does not know print the
// letter itself.
var mysqlSpecs = map[byte]string{
	'a': "%a", 'b': "%b", 'c': "%-m", 'd': "%d", 'e': "%-d", 'f': "%f", 'H': "%H", 'h': "%I",
	'I': "%I", 'i': "%M", 'j': "%j", 'k': "%-H", 'l': "%-I", 'M': "%B", 'm': "%m", 'p': "%p",
	'r': "%I:%M:%S %p", 'S': "%S", 's': "%S", 'T': "%H:%M:%S", 'v': "%V", 'W': "%A",
	'x': "%G", 'Y': "%Y", 'y': "%y", '%': "%%",
}

// mysqlFormat translates a Trino date_format pattern into a strftime pattern.
func mysqlFormat(f string) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' || i+1 == len(f) {
			if c == '%' {
				sb.WriteString("%%")
			} else {
				sb.WriteByte(c)
			}
			continue
		}
		i++
		s := f[i]
		if spec, ok := mysqlSpecs[s]; ok {
			sb.WriteString(spec)
			continue
		}
		switch s {
		case 'D', 'U', 'u', 'V', 'w', 'X':
			return "", fmt.Errorf("date format specifier %%%c is not supported by Trino", s)
		}
		if s == '%' {
			sb.WriteString("%%")
		} else {
			sb.WriteByte(s)
		}
	}
	return sb.String(), nil
}

// jodaFormat translates a Joda-Time pattern (Trino's format_datetime/parse_datetime) into a
// strftime pattern.
func jodaFormat(f string) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(f); {
		c := f[i]
		if c == '\'' {
			// quoted literal; '' is a quote
			if i+1 < len(f) && f[i+1] == '\'' {
				sb.WriteByte('\'')
				i += 2
				continue
			}
			j := i + 1
			for j < len(f) {
				if f[j] == '\'' {
					if j+1 < len(f) && f[j+1] == '\'' {
						sb.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				if f[j] == '%' {
					sb.WriteString("%%")
				} else {
					sb.WriteByte(f[j])
				}
				j++
			}
			if j >= len(f) {
				return "", fmt.Errorf("unterminated quote in pattern %q", f)
			}
			i = j + 1
			continue
		}
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			if c == '%' {
				sb.WriteString("%%")
			} else {
				sb.WriteByte(c)
			}
			i++
			continue
		}
		n := 1
		for i+n < len(f) && f[i+n] == c {
			n++
		}
		i += n
		spec, err := jodaField(c, n)
		if err != nil {
			return "", err
		}
		sb.WriteString(spec)
	}
	return sb.String(), nil
}

func jodaField(c byte, n int) (string, error) {
	pick := func(one, two string) string {
		if n == 1 {
			return one
		}
		return two
	}
	switch c {
	case 'y', 'Y', 'x':
		if n == 2 {
			return "%y", nil
		}
		return "%Y", nil
	case 'M':
		switch {
		case n <= 2:
			return pick("%-m", "%m"), nil
		case n == 3:
			return "%b", nil
		}
		return "%B", nil
	case 'd':
		return pick("%-d", "%d"), nil
	case 'D':
		return "%j", nil
	case 'H':
		return pick("%-H", "%H"), nil
	case 'h':
		return pick("%-I", "%I"), nil
	case 'm':
		return pick("%-M", "%M"), nil
	case 's':
		return pick("%-S", "%S"), nil
	case 'S':
		switch n {
		case 3:
			return "%g", nil
		case 6:
			return "%f", nil
		case 9:
			return "%n", nil
		}
	case 'a':
		return "%p", nil
	case 'E':
		if n >= 4 {
			return "%A", nil
		}
		return "%a", nil
	case 'Z':
		// Joda prints the offset, +0000 (Z) or +00:00 (ZZ), or the zone's id (ZZZ); every time
		// here is in UTC (DuckDB's %z prints +00)
		switch n {
		case 1:
			return "+0000", nil
		case 2:
			return "+00:00", nil
		}
		return "UTC", nil
	case 'z':
		return "%Z", nil
	}
	return "", fmt.Errorf("pattern letter %q repeated %d times is not supported", c, n)
}

// jsonPath turns a Trino JSON path into DuckDB's: Trino accepts $["key"] and $['key'] for
// keys with special characters, DuckDB wants $."key".
func jsonPath(p string) string {
	if !strings.Contains(p, "[\"") && !strings.Contains(p, "['") {
		return p
	}
	var sb strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '[' && i+1 < len(p) && (p[i+1] == '"' || p[i+1] == '\'') {
			q := p[i+1]
			end := strings.IndexByte(p[i+2:], q)
			if end >= 0 && i+2+end+1 < len(p) && p[i+2+end+1] == ']' {
				key := p[i+2 : i+2+end]
				sb.WriteString(`."` + strings.ReplaceAll(key, `"`, `\"`) + `"`)
				i = i + 2 + end + 1
				continue
			}
		}
		sb.WriteByte(p[i])
	}
	return sb.String()
}
