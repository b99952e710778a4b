// Package appconfig reads a service's configuration from its environment
// into a tagged struct (github.com/sethvargo/go-envconfig) and describes
// that struct: the `--help` page, the generated docs/configuration.md, and
// the start-up log line with secrets masked. The struct is the one place a
// variable, its default and its meaning are written down.
//
// Fields carry go-envconfig's `env` tag (`env:"NAME, default=VALUE"` or
// `env:"NAME, required"`), a `help` tag saying what the variable means, and
// `secret:"true"` when its value must never be printed (`secret:"url"`: a
// connection URL whose password is masked and the rest shown). A nested struct
// without an `env` tag is walked as part of its parent.
package appconfig

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// Validator is implemented by a configuration (or a nested part of one)
// that checks more than presence once every variable is read. Load runs
// the Validate of every nested part first, in declaration order, then the
// configuration's own: a part checks itself, so a configuration need not
// call its parts. (An embedded part's Validate is promoted to its parent,
// so it runs as the parent's, unless the parent has its own.)
type Validator interface {
	Validate() error
}

// Load reads target (a pointer to a tagged struct) from the environment. An
// empty variable counts as unset, so it takes its default. A missing
// required variable is named together with its meaning; then target's
// Validate runs, if it has one.
func Load(ctx context.Context, target any) error {
	return LoadFrom(ctx, target, func(key string) string { return os.Getenv(key) })
}

// LoadFrom is Load reading variables through getenv (tests pass a map's).
func LoadFrom(ctx context.Context, target any, getenv func(string) string) error {
	lookup := envconfig.LookuperFunc(func(key string) (string, bool) {
		v := getenv(key)
		return v, v != ""
	})
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: target, Lookuper: lookup}); err != nil {
		if errors.Is(err, envconfig.ErrMissingRequired) {
			for _, v := range Vars(target) {
				if v.Required && getenv(v.Name) == "" {
					return fmt.Errorf("config: %s is required: %s", v.Name, v.Help)
				}
			}
		}
		// go-envconfig names the struct field; name the variable instead.
		for _, v := range Vars(target) {
			if rest, ok := strings.CutPrefix(err.Error(), v.field+": "); ok && getenv(v.Name) != "" {
				if v.Secret {
					return fmt.Errorf("config: %s is malformed", v.Name)
				}
				return fmt.Errorf("config: %s=%q: %s", v.Name, getenv(v.Name), rest)
			}
		}
		return fmt.Errorf("config: %w", err)
	}
	return validate(reflect.ValueOf(target), true)
}

// validate runs the Validate of each nested part of v, then v's own
// (unless v is embedded: its Validate is its parent's).
func validate(v reflect.Value, own bool) error {
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if _, tagged := f.Tag.Lookup("env"); tagged || f.Type.Kind() != reflect.Struct || !f.IsExported() {
			continue
		}
		if err := validate(v.Field(i), !f.Anonymous); err != nil {
			return err
		}
	}
	if !own {
		return nil
	}
	target := v.Interface()
	if v.CanAddr() {
		target = v.Addr().Interface()
	}
	if val, ok := target.(Validator); ok {
		return val.Validate()
	}
	return nil
}

// Part returns the first field of type T in cfg (a struct or a pointer to
// one), nested structs searched in declaration order: how a program finds a
// shared block (a database's configuration, say) in a service's
// configuration without knowing its shape.
func Part[T any](cfg any) (T, bool) {
	v := reflect.ValueOf(cfg)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	return part[T](v)
}

func part[T any](v reflect.Value) (T, bool) {
	want := reflect.TypeFor[T]()
	for i := range v.NumField() {
		f := v.Field(i)
		if v.Type().Field(i).Type == want {
			return f.Interface().(T), true
		}
		if f.Kind() == reflect.Struct && v.Type().Field(i).IsExported() {
			if found, ok := part[T](f); ok {
				return found, true
			}
		}
	}
	var zero T
	return zero, false
}

// Var describes one environment variable of a configuration.
type Var struct {
	Name     string
	Default  string
	Help     string
	Required bool
	Secret   bool
	urlOnly  bool   // only the password of a URL is secret
	field    string // the struct field's name
	value    reflect.Value
}

// Vars lists the variables of target (a struct or a pointer to one) in the
// order its fields are declared, nested structs in place.
func Vars(target any) []Var {
	v := reflect.ValueOf(target)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v = reflect.New(v.Type().Elem())
		}
		v = v.Elem()
	}
	var out []Var
	collect(v, &out)
	return out
}

func collect(v reflect.Value, out *[]Var) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("env")
		if !ok {
			if f.Type.Kind() == reflect.Struct {
				collect(v.Field(i), out)
			}
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		d := Var{Name: strings.TrimSpace(name), Help: f.Tag.Get("help"), Secret: f.Tag.Get("secret") != "", urlOnly: f.Tag.Get("secret") == "url", field: f.Name, value: v.Field(i)}
		for rest := opts; rest != ""; {
			var o string
			o, rest, _ = strings.Cut(rest, ",")
			o = strings.TrimSpace(o)
			if def, ok := strings.CutPrefix(o, "default="); ok {
				d.Default = def
				if rest != "" {
					d.Default += "," + rest
				}
				break
			}
			if o == "required" {
				d.Required = true
			}
		}
		*out = append(*out, d)
	}
}

// Masked is what a secret's value is logged as.
const Masked = "********"

// LogAttrs returns the loaded configuration as slog key-value pairs, each
// secret masked (an unset secret logs as empty, so its absence shows).
func LogAttrs(target any) []any {
	var attrs []any
	for _, v := range Vars(target) {
		val := fmt.Sprint(v.value.Interface())
		switch {
		case v.urlOnly:
			val = maskPassword(val)
		case v.Secret && val != "":
			val = Masked
		}
		attrs = append(attrs, v.Name, val)
	}
	return attrs
}

// maskPassword masks the password of a URL (in its user information or a
// password query parameter); a value that is not a URL with a scheme and a
// host is masked whole.
func maskPassword(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return Masked
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", Masked)
		u.RawQuery = q.Encode()
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Masked)
	}
	// Shown as written, not percent-encoded.
	return strings.ReplaceAll(u.String(), url.QueryEscape(Masked), Masked)
}

// Positive refuses a duration that is not above zero, naming its variable.
func Positive(name string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("config: %s=%s is not a positive duration like 2s", name, d)
	}
	return nil
}
