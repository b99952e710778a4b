package runner

import (
	"fmt"
	"net"
	"sync"
)

// PortPicker hands out free TCP ports, never the same one twice in a run
// (the OS may offer a just-closed port again before its user binds it).
type PortPicker struct {
	mu     sync.Mutex
	taken  map[int]bool
	strict bool // a preferred port or none: never another one
}

func NewPortPicker() *PortPicker { return &PortPicker{taken: map[int]bool{}} }

// free returns a port nobody listens on now.
func (pp *PortPicker) free() (int, error) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("pick a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !pp.taken[port] {
			pp.taken[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("pick a free port: none found")
}

// want returns preferred when it is free, else (if fallback) another free
// port, else an error naming the busy port.
func (pp *PortPicker) want(preferred int, fallback bool) (int, error) {
	if preferred > 0 && portFree(preferred) {
		pp.mu.Lock()
		pp.taken[preferred] = true
		pp.mu.Unlock()
		return preferred, nil
	}
	if !fallback || (pp.strict && preferred > 0) {
		return 0, fmt.Errorf("port %d is already in use", preferred)
	}
	return pp.free()
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
