package runner

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// tailLines is how many recent log lines a process keeps for crash reports.
const tailLines = 30

// proc is one supervised child process: its own process group (so stopping
// it stops anything it spawned), its output prefixed on the console and
// written to a log file, and its last lines kept for crash reports.
type proc struct {
	name     string
	cmd      *exec.Cmd
	log      *lineSink
	done     chan struct{}
	err      error // valid once done is closed
	stopping atomic.Bool
	stopSig  syscall.Signal
}

type procSpec struct {
	name    string
	dir     string
	argv    []string
	env     []string
	logFile string
	out     io.Writer // console; may be io.Discard
	stopSig syscall.Signal
	cred    *syscall.Credential
	onLine  func(string) // sees every line, if set
}

func startProc(s procSpec) (*proc, error) {
	if err := os.MkdirAll(filepath.Dir(s.logFile), 0o755); err != nil {
		return nil, fmt.Errorf("log dir for %s: %w", s.name, err)
	}
	f, err := os.OpenFile(s.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log file for %s: %w", s.name, err)
	}
	sink := &lineSink{prefix: "[" + s.name + "] ", out: s.out, file: f, onLine: s.onLine}
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.Dir = s.dir
	cmd.Env = s.env
	cmd.Stdout = sink
	cmd.Stderr = sink
	// Own process group; killed with the runner if the runner dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: s.cred}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", s.name, strings.Join(s.argv, " "), err)
	}
	p := &proc{name: s.name, cmd: cmd, log: sink, done: make(chan struct{}), stopSig: s.stopSig}
	if p.stopSig == 0 {
		p.stopSig = syscall.SIGTERM
	}
	go func() {
		p.err = cmd.Wait()
		sink.flush()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id (and process group id).
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop signals the process group and waits up to grace before killing it.
func (p *proc) stop(grace time.Duration) {
	p.stopping.Store(true)
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.pid(), p.stopSig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.done
	}
	// Anything left in the group (a grandchild that ignored the signal).
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
}

// crashReport describes an unexpected exit with the process's last lines.
func (p *proc) crashReport() error {
	return fmt.Errorf("%s exited unexpectedly (%v); last log lines:\n%s", p.name, p.err, p.log.tail())
}

// lineSink splits output into lines, writing each to the log file, to the
// console with a prefix, and into a ring of recent lines.
type lineSink struct {
	prefix string
	out    io.Writer
	file   *os.File
	onLine func(string)

	mu      sync.Mutex
	partial []byte
	ring    [tailLines]string
	n       int
}

// consoleMu keeps lines of different processes from interleaving.
var consoleMu sync.Mutex

func (s *lineSink) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.file.Write(b)
	s.partial = append(s.partial, b...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.line(string(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	return len(b), nil
}

func (s *lineSink) line(l string) {
	s.ring[s.n%tailLines] = l
	s.n++
	if s.onLine != nil {
		s.onLine(l)
	}
	if s.out != nil {
		consoleMu.Lock()
		_, _ = io.WriteString(s.out, s.prefix+l+"\n")
		consoleMu.Unlock()
	}
}

func (s *lineSink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 {
		s.line(string(s.partial))
		s.partial = nil
	}
}

func (s *lineSink) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	start := max(0, s.n-tailLines)
	for i := start; i < s.n; i++ {
		b.WriteString("    " + s.ring[i%tailLines] + "\n")
	}
	if b.Len() == 0 {
		return "    (no output)\n"
	}
	return b.String()
}
