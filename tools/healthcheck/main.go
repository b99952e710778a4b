// Command healthcheck probes a service's health endpoint for container
// HEALTHCHECKs: distroless images have no shell or curl. It GETs the URL in
// its first argument (or HEALTHCHECK_URL) and exits 0 on a 2xx answer
// within two seconds, 1 otherwise.
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	url := os.Getenv("HEALTHCHECK_URL")
	if len(os.Args) > 1 {
		url = os.Args[1]
	}
	if url == "" {
		fmt.Fprintln(os.Stderr, "healthcheck: no URL (argument or HEALTHCHECK_URL)")
		os.Exit(1)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		fmt.Fprintln(os.Stderr, "healthcheck:", resp.Status)
		os.Exit(1)
	}
}
