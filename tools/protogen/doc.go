// Package protogen pins the code generators behind `make proto` (buf,
// protoc-gen-go, protoc-gen-go-grpc) as Go tools, so generating the contracts
// needs nothing but the Go module proxy. It is kept out of go.work so its
// dependencies never reach the services' build lists.
package protogen
