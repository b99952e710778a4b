package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pms-dapr/pms/tools/pmsrun/importparts"
)

// maxPartBytes keeps each request under the gateway's import limit
// (128 MiB) with room to spare.
const maxPartBytes = 120 << 20

// importFile sends an NDJSON file of FHIR Patients to the running system's
// bulk import ($import) in parts of at most -part lines, up to -parallel
// of them at once, waits for each, and writes the refused lines'
// OperationOutcomes, numbered by the file's own lines, beside it. A part
// that names an identifier or an email a part still running names waits
// for it, so the file's lines apply in their order as if sent one part
// after another.
func importFile(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("pmsrun import", flag.ContinueOnError)
	gateway := fs.String("gateway", "http://127.0.0.1:4004", "the gateway's base URL")
	email := fs.String("email", "admin@pms.local", "an admin's email (the password is read from PMS_PASSWORD, else -password-file)")
	passwordFile := fs.String("password-file", ".data/admin-password", "file holding the admin's password when PMS_PASSWORD is not set")
	part := fs.Int("part", 100_000, "patients per request at most (a file's parts are evened out so that its last part does not run alone)")
	parallel := fs.Int("parallel", 2, "requests running at once (patient-service runs two imports side by side)")
	errorsOut := fs.String("errors", "", "where to write the refused lines' OperationOutcomes (default FILE.errors.ndjson)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *part < 1 || *parallel < 1 {
		return errors.New("usage: pmsrun import [-gateway URL] [-email E] [-part N] [-parallel N] [-errors FILE] FILE.ndjson")
	}
	path := fs.Arg(0)
	if *errorsOut == "" {
		*errorsOut = strings.TrimSuffix(path, ".ndjson") + ".errors.ndjson"
	}
	password := os.Getenv("PMS_PASSWORD")
	if password == "" {
		b, err := os.ReadFile(*passwordFile)
		if err != nil {
			return fmt.Errorf("no password: set PMS_PASSWORD or -password-file (%w)", err)
		}
		password = strings.TrimSpace(string(b))
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	out, err := os.Create(*errorsOut)
	if err != nil {
		return err
	}
	defer out.Close()

	switch lines, err := countLines(f); {
	case err == nil:
		*part = importparts.Size(lines, *part, *parallel)
	case !errors.Is(err, errNotRegular):
		return err
	}
	c := &importClient{base: strings.TrimSuffix(*gateway, "/"), email: *email, password: password, http: &http.Client{Timeout: 10 * time.Minute}}
	if err := c.login(ctx); err != nil {
		return err
	}
	start := time.Now()
	var total manifestCounts
	parts := &partReader{r: bufio.NewReaderSize(f, 1<<20)}
	type result struct {
		m   manifest
		err error
	}
	type running struct {
		n, offset, lines int
		keys             map[string]bool
		done             chan result
	}
	var inflight []*running
	// finish waits for the oldest part running and takes its result.
	finish := func() error {
		r := inflight[0]
		inflight = inflight[1:]
		res := <-r.done
		if res.err != nil {
			return fmt.Errorf("part %d (lines %d to %d): %w", r.n, r.offset+1, r.offset+r.lines, res.err)
		}
		if res.m.Extension.Rejected > 0 {
			if err := c.copyErrors(ctx, res.m, r.offset, out); err != nil {
				return fmt.Errorf("part %d: error file: %w", r.n, err)
			}
		}
		total.add(res.m.Extension)
		return nil
	}
	shares := func(keys map[string]bool) bool {
		for _, r := range inflight {
			for k := range keys {
				if r.keys[k] {
					return true
				}
			}
		}
		return false
	}
	offset := 0 // lines of the file before this part
	for n := 1; ; n++ {
		body, lines, err := parts.next(*part)
		if err != nil {
			return err
		}
		if lines == 0 {
			break
		}
		keys := patientKeys(body)
		for len(inflight) > 0 && (len(inflight) >= *parallel || shares(keys)) {
			if err := finish(); err != nil {
				return err
			}
		}
		r := &running{n: n, offset: offset, lines: lines, keys: keys, done: make(chan result, 1)}
		go func() {
			m, err := c.importPart(ctx, body, r.n)
			r.done <- result{m, err}
		}()
		inflight = append(inflight, r)
		offset += lines
	}
	for len(inflight) > 0 {
		if err := finish(); err != nil {
			return err
		}
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("Done in %.1f s: %d patients (%d imported, %d updated, %d unchanged, %d refused), %.0f patients/s.\n",
		secs, total.Lines, total.Imported, total.Updated, total.Unchanged, total.Rejected, float64(total.Lines)/secs)
	if total.Rejected > 0 {
		fmt.Printf("Refused lines, one OperationOutcome each with its line number: %s\n", *errorsOut)
	} else {
		_ = os.Remove(*errorsOut)
	}
	return nil
}

// errNotRegular is countLines refusing what it cannot read twice.
var errNotRegular = errors.New("not a regular file")

// countLines counts the lines of a regular file and goes back to its
// start; it refuses anything else (errNotRegular: a pipe is read once).
func countLines(f *os.File) (int, error) {
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return 0, errNotRegular
	}
	n, last, buf := 0, byte('\n'), make([]byte, 1<<20)
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if k > 0 {
			last = buf[k-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("counting the lines of %s: %w", f.Name(), err)
		}
	}
	if last != '\n' {
		n++ // a last line without its newline
	}
	_, err := f.Seek(0, io.SeekStart)
	return n, err
}

// partReader reads a file a part at a time.
type partReader struct {
	r     *bufio.Reader
	carry []byte // a line read past the last part's size limit
}

// next reads up to max lines, and at most maxPartBytes unless one line is
// larger (the server then refuses that line alone).
func (p *partReader) next(max int) ([]byte, int, error) {
	var buf bytes.Buffer
	lines := 0
	add := func(line []byte) {
		buf.Write(line)
		if line[len(line)-1] != '\n' {
			buf.WriteByte('\n')
		}
		lines++
	}
	if p.carry != nil {
		add(p.carry)
		p.carry = nil
	}
	for lines < max {
		line, err := p.r.ReadBytes('\n')
		if len(line) > 0 {
			if buf.Len()+len(line) > maxPartBytes && lines > 0 {
				p.carry = line
				break
			}
			add(line)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
	}
	return buf.Bytes(), lines, nil
}

// patientKeys is what the lines of body name that the server finds a
// patient by, or refuses twice: every identifier (system and value, upper
// case) and every email (lower case). A line that is not a Patient names
// nothing (the server refuses it).
func patientKeys(body []byte) map[string]bool {
	keys := map[string]bool{}
	for line := range bytes.Lines(body) {
		var p struct {
			Identifier []struct{ System, Value string }
			Telecom    []struct{ System, Value string }
		}
		if json.Unmarshal(line, &p) != nil {
			continue
		}
		for _, id := range p.Identifier {
			keys["identifier "+id.System+"|"+strings.ToUpper(strings.TrimSpace(id.Value))] = true
		}
		for _, t := range p.Telecom {
			if t.System == "email" {
				keys["email "+strings.ToLower(strings.TrimSpace(t.Value))] = true
			}
		}
	}
	return keys
}

type importClient struct {
	base, email, password string
	http                  *http.Client

	mu    sync.Mutex // parts run at once: any may log in again
	token string
}

func (c *importClient) login(ctx context.Context) error {
	body, _ := json.Marshal(map[string]string{"email": c.email, "password": c.password})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/auth/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"accessToken"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&tok) != nil || tok.AccessToken == "" {
		return fmt.Errorf("login as %s: %s", c.email, resp.Status)
	}
	c.mu.Lock()
	c.token = tok.AccessToken
	c.mu.Unlock()
	return nil
}

// do sends a request with the access token, logging in again once when
// the token expired (401).
func (c *importClient) do(ctx context.Context, method, url string, body []byte, header http.Header) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if body == nil {
			req.Body = http.NoBody
		}
		for k, v := range header {
			req.Header[k] = v
		}
		c.mu.Lock()
		req.Header.Set("Authorization", "Bearer "+c.token)
		c.mu.Unlock()
		resp, err := c.http.Do(req)
		if err != nil || resp.StatusCode != http.StatusUnauthorized || attempt > 0 {
			return resp, err
		}
		resp.Body.Close()
		if err := c.login(ctx); err != nil {
			return nil, err
		}
	}
}

type manifestCounts struct {
	Lines     int `json:"lines"`
	Imported  int `json:"imported"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Rejected  int `json:"rejected"`
}

func (m *manifestCounts) add(o manifestCounts) {
	m.Lines += o.Lines
	m.Imported += o.Imported
	m.Updated += o.Updated
	m.Unchanged += o.Unchanged
	m.Rejected += o.Rejected
}

type manifest struct {
	Error []struct {
		URL string `json:"url"`
	} `json:"error"`
	Extension manifestCounts `json:"extension"`
}

// importPart sends one part and waits for its manifest.
func (c *importClient) importPart(ctx context.Context, body []byte, n int) (manifest, error) {
	resp, err := c.do(ctx, http.MethodPost, c.base+"/fhir/R4/$import", body,
		http.Header{"Content-Type": {"application/fhir+ndjson"}, "Prefer": {"respond-async"}})
	if err != nil {
		return manifest{}, err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	status := resp.Header.Get("Content-Location")
	if resp.StatusCode != http.StatusAccepted || status == "" {
		return manifest{}, fmt.Errorf("%s: %s", resp.Status, msg)
	}
	status, err = c.throughGateway(status)
	if err != nil {
		return manifest{}, err
	}
	last := ""
	for {
		resp, err := c.do(ctx, http.MethodGet, status, nil, nil)
		if err != nil {
			return manifest{}, err
		}
		switch resp.StatusCode {
		case http.StatusAccepted:
			resp.Body.Close()
			if p := resp.Header.Get("X-Progress"); p != last {
				fmt.Printf("part %d: %s\n", n, p)
				last = p
			}
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			select {
			case <-ctx.Done():
				return manifest{}, ctx.Err()
			case <-time.After(wait):
			}
		case http.StatusOK:
			var m manifest
			err := json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			if err == nil {
				e := m.Extension
				fmt.Printf("part %d: %d patients: %d imported, %d updated, %d unchanged, %d refused\n",
					n, e.Lines, e.Imported, e.Updated, e.Unchanged, e.Rejected)
			}
			return m, err
		default:
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			return manifest{}, fmt.Errorf("status: %s: %s", resp.Status, msg)
		}
	}
}

// throughGateway is a URL the server named, at the gateway this tool was
// given (the server names itself by its public base, which may differ).
func (c *importClient) throughGateway(url string) (string, error) {
	i := strings.Index(url, "/fhir/R4/")
	if i < 0 {
		return "", fmt.Errorf("%q is not a URL of the FHIR API", url)
	}
	return c.base + url[i:], nil
}

// partLine is the line number an error file names ("line N: ...", and
// its extension's valueInteger).
var partLine = regexp.MustCompile(`"valueInteger":(\d+)|line (\d+): `)

// copyErrors appends a part's error file to out, each line number moved
// by offset to the file's own numbering.
func (c *importClient) copyErrors(ctx context.Context, m manifest, offset int, out io.Writer) error {
	for _, e := range m.Error {
		url, err := c.throughGateway(e.URL)
		if err != nil {
			return err
		}
		resp, err := c.do(ctx, http.MethodGet, url, nil, http.Header{"Accept": {"application/fhir+ndjson"}})
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return fmt.Errorf("%s", resp.Status)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			line := partLine.ReplaceAllStringFunc(sc.Text(), func(s string) string {
				m := partLine.FindStringSubmatch(s)
				if m[1] != "" {
					n, _ := strconv.Atoi(m[1])
					return `"valueInteger":` + strconv.Itoa(n+offset)
				}
				n, _ := strconv.Atoi(m[2])
				return "line " + strconv.Itoa(n+offset) + ": "
			})
			if _, err := fmt.Fprintln(out, line); err != nil {
				resp.Body.Close()
				return err
			}
		}
		resp.Body.Close()
		if err := sc.Err(); err != nil {
			return err
		}
	}
	return nil
}
