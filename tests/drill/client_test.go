package drill

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

const gateway = "http://127.0.0.1:4004"

var httpClient = &http.Client{Timeout: 30 * time.Second}

// call sends a JSON request through the gateway with a bearer token and
// decodes a JSON answer into out (when non-nil), returning the status.
func call(token, method, path string, body any, out any, headers ...string) (int, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, gateway+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w: %s", method, path, err, raw)
		}
	}
	if resp.StatusCode >= 300 && out != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, nil
}

func login(email, password string) (string, error) {
	var s struct {
		AccessToken string `json:"accessToken"`
	}
	if _, err := call("", http.MethodPost, "/auth/login", map[string]string{"email": email, "password": password}, &s); err != nil {
		return "", err
	}
	return s.AccessToken, nil
}

type patient struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	BillingAccountID string `json:"billingAccountId"`
}

type account struct {
	ID           string `json:"id"`
	BalanceMinor int64  `json:"balanceMinor"`
}
