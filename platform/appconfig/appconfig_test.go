package appconfig_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/platform/appconfig"
)

type inner struct {
	URL string `env:"DB_URL, required" secret:"url" help:"where the database is"`
}

type sample struct {
	Port    string        `env:"PORT, default=4000" help:"the port"`
	Wait    time.Duration `env:"WAIT, default=2s" help:"how long"`
	List    []string      `env:"LIST, default=a,b" help:"a list"`
	Token   string        `env:"TOKEN" secret:"true" help:"a secret"`
	DB      inner
	Ignored int
}

func (s sample) Validate() error {
	if s.Port == "0" {
		return errors.New("port 0")
	}
	return nil
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadReadsDefaultsAndValues(t *testing.T) {
	var s sample
	require.NoError(t, appconfig.LoadFrom(context.Background(), &s, env(map[string]string{
		"DB_URL": "postgres://u:pw@db/x", "PORT": "", "TOKEN": "t0ken"})))
	assert.Equal(t, "4000", s.Port, "an empty variable takes its default")
	assert.Equal(t, 2*time.Second, s.Wait)
	assert.Equal(t, []string{"a", "b"}, s.List, "a default may hold commas")
	assert.Equal(t, "postgres://u:pw@db/x", s.DB.URL)
}

func TestLoadErrors(t *testing.T) {
	var s sample
	err := appconfig.LoadFrom(context.Background(), &s, env(nil))
	require.Error(t, err)
	assert.Equal(t, "config: DB_URL is required: where the database is", err.Error())

	var s2 sample
	err = appconfig.LoadFrom(context.Background(), &s2, env(map[string]string{"DB_URL": "x", "WAIT": "soon"}))
	assert.ErrorContains(t, err, "WAIT")
	var s3 sample
	err = appconfig.LoadFrom(context.Background(), &s3, env(map[string]string{"DB_URL": "x", "PORT": "0"}))
	assert.EqualError(t, err, "port 0", "Validate runs after loading")
}

func TestLogAttrsMaskSecrets(t *testing.T) {
	s := sample{Port: "1", Token: "t0ken", DB: inner{URL: "postgres://u:pw@db/x?sslmode=verify-full&password=pw2"}}
	attrs := appconfig.LogAttrs(s)
	got := map[string]any{}
	for i := 0; i < len(attrs); i += 2 {
		got[attrs[i].(string)] = attrs[i+1]
	}
	assert.Equal(t, appconfig.Masked, got["TOKEN"])
	assert.Equal(t, "postgres://u:********@db/x?password=********&sslmode=verify-full", got["DB_URL"])
	assert.NotContains(t, got["DB_URL"], "pw")
	assert.Equal(t, "1", got["PORT"])

	s.DB.URL = "host=db password=pw"
	s.Token = ""
	attrs = appconfig.LogAttrs(s)
	assert.Contains(t, attrs, appconfig.Masked, "a connection string that is not a URL is masked whole")
	assert.NotContains(t, attrs, "host=db password=pw")
}

func TestHelpListsEveryVariable(t *testing.T) {
	cmd := appconfig.Command{App: "demo", Summary: "Does things.", Sections: []appconfig.Section{{Title: "demo", Doc: "Runs.", Config: sample{}}}}
	var out bytes.Buffer
	assert.False(t, appconfig.HandleHelp([]string{"demo"}, &out, cmd))
	assert.False(t, appconfig.HandleHelp([]string{"demo", "migrate"}, &out, cmd))
	require.True(t, appconfig.HandleHelp([]string{"demo", "--help"}, &out, cmd))
	for _, want := range []string{"PORT", "[4000]", "DB_URL", "(required)", "TOKEN", "(unset)", "a secret"} {
		assert.Contains(t, out.String(), want)
	}
	assert.NotContains(t, out.String(), "Ignored")
	out.Reset()
	require.True(t, appconfig.HandleHelp([]string{"demo", "--help-markdown"}, &out, cmd))
	assert.Contains(t, out.String(), "| `LIST` | `a,b` | a list |")
	assert.Contains(t, out.String(), "| `DB_URL` | *required* | where the database is *Secret: masked in the start-up log.* |")
}

// Shared is a block services embed.
type Shared struct {
	Host  string `env:"HOST, default=127.0.0.1" help:"the host"`
	Inner inner
	calls *int
}

func (s Shared) Validate() error {
	*s.calls++
	if s.Host == "bad" {
		return errors.New("bad host")
	}
	return nil
}

type checkedInner struct {
	Name string `env:"NAME" help:"a name"`
}

func (c checkedInner) Validate() error {
	if c.Name == "x" {
		return errors.New("name x")
	}
	return nil
}

type embedding struct {
	Shared
	Checked checkedInner
	Port    string `env:"PORT, default=4000" help:"the port"`
}

func TestLoadValidatesNestedPartsAndEmbeddedBlocks(t *testing.T) {
	load := func(m map[string]string) (embedding, int, error) {
		calls := 0
		e := embedding{Shared: Shared{calls: &calls}}
		err := appconfig.LoadFrom(context.Background(), &e, env(m))
		return e, calls, err
	}
	e, calls, err := load(map[string]string{"DB_URL": "postgres://u:pw@db/x", "HOST": "h"})
	require.NoError(t, err)
	assert.Equal(t, "h", e.Host, "an embedded block is read")
	assert.Equal(t, "postgres://u:pw@db/x", e.Inner.URL)
	assert.Equal(t, 1, calls, "an embedded block's Validate runs once, as its parent's")
	_, _, err = load(map[string]string{"DB_URL": "x", "NAME": "x"})
	assert.EqualError(t, err, "name x", "a nested part validates itself")
	_, _, err = load(map[string]string{"DB_URL": "x", "HOST": "bad"})
	assert.EqualError(t, err, "bad host")

	inner, ok := appconfig.Part[inner](e)
	assert.True(t, ok)
	assert.Equal(t, "postgres://u:pw@db/x", inner.URL, "Part finds a block inside an embedded one")
	_, ok = appconfig.Part[time.Duration](&e)
	assert.False(t, ok)
}
