package e2e

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every process of the run (apps, sidecars, PostgreSQL, Sentry, and this
// test process, which runs the dev broker) listens on loopback only: the
// kernel's socket tables, not the flags, are the evidence. The one
// exception is Sentry's health endpoint, which Sentry 1.18.2 binds to every
// interface whatever it is told (docs/security.md).
func TestEverythingListensOnLoopbackOnly(t *testing.T) {
	owner := map[string]int{} // socket inode → pid
	for _, pid := range append(sys.PIDs(), os.Getpid()) {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		fds, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(dir, fd.Name()))
			if err != nil {
				continue // closed meanwhile
			}
			if inode, ok := strings.CutPrefix(link, "socket:["); ok {
				owner[strings.TrimSuffix(inode, "]")] = pid
			}
		}
	}

	listening := map[int]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		for _, l := range listenSockets(t, table) {
			pid, ours := owner[l.inode]
			if !ours {
				continue
			}
			listening[pid] = true
			if sys.Sentry != nil && pid == sys.Sentry.PID() && int(l.addr.Port()) == sys.Sentry.HealthzPort {
				continue
			}
			assert.True(t, l.addr.Addr().IsLoopback(), "%s (pid %d) listens on %s", command(pid), pid, l.addr)
		}
	}
	for _, a := range sys.Apps() {
		for _, pid := range []int{a.AppPID(), a.DaprdPID()} {
			assert.True(t, listening[pid], "%s (pid %d) was seen listening", command(pid), pid)
		}
	}
}

type listenSocket struct {
	addr  netip.AddrPort
	inode string
}

// listenSockets reads the sockets in LISTEN state from a /proc/net/tcp{,6}
// table: "sl local_address rem_address st ... inode", addresses in hex, each
// 32-bit word of the address in the host's byte order.
func listenSockets(t *testing.T, table string) []listenSocket {
	t.Helper()
	f, err := os.Open(table)
	require.NoError(t, err)
	defer f.Close()
	var out []listenSocket
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		require.GreaterOrEqual(t, len(fields), 10, "%s: %q", table, sc.Text())
		if fields[3] != "0A" { // TCP_LISTEN
			continue
		}
		hexAddr, hexPort, ok := strings.Cut(fields[1], ":")
		require.True(t, ok, "%s: %q", table, fields[1])
		raw, err := hex.DecodeString(hexAddr)
		require.NoError(t, err)
		ip := make([]byte, len(raw))
		for i := 0; i+4 <= len(raw); i += 4 {
			binary.NativeEndian.PutUint32(ip[i:], binary.BigEndian.Uint32(raw[i:]))
		}
		addr, ok := netip.AddrFromSlice(ip)
		require.True(t, ok, "%s: %q", table, fields[1])
		port, err := strconv.ParseUint(hexPort, 16, 16)
		require.NoError(t, err)
		out = append(out, listenSocket{addr: netip.AddrPortFrom(addr.Unmap(), uint16(port)), inode: fields[9]})
	}
	require.NoError(t, sc.Err())
	return out
}

// command names a process for a failure message.
func command(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "process"
	}
	return strings.TrimSpace(string(b))
}
