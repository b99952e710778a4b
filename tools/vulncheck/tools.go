//go:build tools

package main

// indexdb builds the database layout govulncheck reads from the OSV
// entries of the pinned golang.org/x/vulndb (its data/osv).
import _ "golang.org/x/vulndb/cmd/indexdb"
