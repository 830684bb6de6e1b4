// Package auditlake is the root of the auditlake module: a self-hosted audit lake for AWS.
// The program is cmd/auditlake; the packages under internal/ are mapped, with what each is for
// and imports, in docs/ARCHITECTURE.md, which architecture_test.go holds true.
package auditlake
