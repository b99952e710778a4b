package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// 200 concurrent bad logins spread over 50 client addresses neither stop a
// user at another address from signing in nor take auth-service past
// 200 MiB of resident memory: password hashing runs in bounded slots, and
// what does not get one is told to retry (503 with Retry-After).
func TestLoginFloodIsBounded(t *testing.T) {
	email := createUser(t, "clinician")
	user := clientFrom("127.0.0.6")

	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clientFrom(fmt.Sprintf("127.0.1.%d", 1+i%50))
			r := doFrom(t, c, "", http.MethodPost, gateway+"/auth/login",
				map[string]string{"email": fmt.Sprintf("flood%d@example.com", i), "password": "not anyone's password"})
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		}()
	}
	// Meanwhile the user signs in, retrying as Retry-After says.
	var got int
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r := doFrom(t, user, "", http.MethodPost, gateway+"/auth/login", map[string]string{"email": email, "password": userPassword})
		got = r.status
		if got != http.StatusServiceUnavailable {
			break
		}
		wait, _ := strconv.Atoi(r.header.Get("Retry-After"))
		time.Sleep(time.Duration(max(wait, 1)) * time.Second)
	}
	wg.Wait()
	assert.Equal(t, http.StatusOK, got, "the user signs in during the flood")
	for status := range statuses {
		assert.Contains(t, []int{http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusServiceUnavailable}, status)
	}

	peak := peakRSS(t, sys.App("auth-service").AppPID())
	t.Logf("login flood: answers %v; auth-service peak RSS %.1f MiB", statuses, float64(peak)/(1<<20))
	assert.Less(t, peak, int64(200<<20), "auth-service's peak resident memory")
}

// peakRSS reads a process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	require.NotZero(t, pid, "auth-service is running")
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
