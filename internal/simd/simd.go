// Package simd holds the scanning loops that run 32 bytes at a time with AVX2, in assembly
// (a package with cgo, like cloudtrail, may not have assembly of its own). Each function
// reports what it did not look at, so the caller finishes with its portable loop: the result
// is the same with or without AVX2. Callers check HasAVX2 first: without it the functions
// look at nothing.
package simd
