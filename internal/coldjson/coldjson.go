// Package coldjson puts back the eventjson of a cold (compacted) CloudTrail file: the text a
// cold file stores with the values other columns hold cut out (ctparquet.CutJSON), read with
// them written in again. It is the one implementation of the put-back: the Go side of the
// cut's round-trip check (ctparquet.JoinJSON) and the engine's scalar function that the store
// views call (engine, FuncName) both run Append.
//
// The stored text holds valid JSON's bytes and, where a value was cut, a marker: the byte k
// (1 ≤ k < MapMark) for the k-th id column's value, or MapMark and one name byte for a map
// value — byte 32+i for the i-th (1-based) of the row's map values one after the other.
package coldjson

import (
	"unicode/utf8"
)

// MapMark starts the two bytes that stand for a map value; MaxMapValue is the last value
// (1-based) the name byte can name.
const (
	MapMark     = 5
	MaxMapValue = 126 - 32
)

// MapMarker is the marker that stands for the i-th (1-based, i ≤ MaxMapValue) of a row's map
// values in a cut text: MapMark and the name byte 32+i.
func MapMarker(i int) string { return string([]byte{MapMark, byte(32 + i)}) }

// FuncName is the engine's scalar function that returns a cold row's eventjson whole:
// FuncName(cut, eventid, requestid, accesskeyid, sharedeventid, values of requestparameters,
// of additionaleventdata, of responseelements) — the maps' values as lists (map_values).
// It reads nothing but its arguments.
const FuncName = "__auditlake_cold_json"

// Append appends cut to dst with every marker replaced by its value and returns the result:
// byte k (1 ≤ k ≤ len(ids), k < MapMark) by ids[k-1]; MapMark and a name byte n (32 ≤ n < 128)
// by mapValue(n-32) ("" when it has none: mapValue returns false, or n-32 < 1). A MapMark
// followed by no byte, by a byte below 32 or by a byte of a multi-byte character is left out
// alone, and the bytes after it are read as usual, so that the result of valid UTF-8 input is
// valid UTF-8. Every other byte is copied.
func Append(dst []byte, cut string, ids []string, mapValue func(i int) (string, bool)) []byte {
	for len(cut) > 0 {
		i := nextMarker(cut)
		dst = append(dst, cut[:i]...)
		if i == len(cut) {
			break
		}
		b := cut[i]
		cut = cut[i+1:]
		if b != MapMark {
			if int(b) <= len(ids) {
				dst = append(dst, ids[b-1]...)
			} else {
				dst = append(dst, b)
			}
			continue
		}
		if len(cut) == 0 || cut[0] < 32 || cut[0] >= utf8.RuneSelf {
			continue // a mark that names nothing
		}
		if n := int(cut[0]) - 32; n >= 1 {
			if v, ok := mapValue(n); ok {
				dst = append(dst, v...)
			}
		}
		cut = cut[1:]
	}
	return dst
}

// nextMarker is the index in s of the first byte 1..MapMark, or len(s).
func nextMarker(s string) int {
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			// Eight bytes at a time: (x - 0x06…) &^ x has a high bit set where x has a byte
			// below 6 (hasless: exact as to whether there is one).
			x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
				uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
			if (x-0x0606060606060606)&^x&0x8080808080808080 == 0 {
				i += 8
				continue
			}
			for end := i + 8; i < end; i++ {
				if c := s[i]; c >= 1 && c <= MapMark {
					return i
				}
			}
			continue
		}
		if c := s[i]; c >= 1 && c <= MapMark {
			return i
		}
		i++
	}
	return len(s)
}

// IsMarker says whether b is a byte Append replaces (a cut text's marker).
func IsMarker(r rune) bool { return r >= 1 && r <= MapMark }
