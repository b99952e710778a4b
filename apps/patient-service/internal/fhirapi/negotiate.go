package fhirapi

import (
	"mime"
	"net/http"
	"strings"

	"github.com/pms-dapr/pms/platform/fhir"
)

// negotiate refuses, with 406, a request for a format other than JSON
// (_format or Accept).
func negotiate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := r.URL.Query().Get("_format"); f != "" && !jsonFormat(f) {
			fhir.WriteOutcome(w, http.StatusNotAcceptable, "_format "+f+" is not supported; this server speaks application/fhir+json (_format=json).", "_format")
			return
		}
		if a := r.Header.Get("Accept"); a != "" && !acceptsJSON(a) {
			fhir.WriteOutcome(w, http.StatusNotAcceptable, "Accept "+a+" is not supported; this server answers application/fhir+json.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func jsonFormat(f string) bool {
	mt, _, err := mime.ParseMediaType(f)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(f))
	}
	switch mt {
	case "json", "application/json", "application/fhir+json", "application/json+fhir":
		return true
	}
	return false
}

func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		if mt == "*/*" || mt == "application/*" || jsonFormat(mt) {
			return true
		}
	}
	return false
}
