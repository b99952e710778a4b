//go:build tools

// Package vulncheck pins the vulnerability tooling `make vulncheck` builds:
// govulncheck, and indexdb with the Go vulnerability database it indexes
// (the OSV entries under data/osv of the pinned golang.org/x/vulndb).
// Kept out of go.work, like tools/daprd, and built with GOWORK=off.
package vulncheck

import (
	_ "golang.org/x/vuln/cmd/govulncheck"
	_ "golang.org/x/vulndb/cmd/indexdb"
)
