// Package compose runs docker-compose.yml for real (see compose_test.go):
// `make test-containers`.
package compose
