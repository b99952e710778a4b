package appconfig

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Command describes a service's command line for `--help` and the
// generated configuration reference.
type Command struct {
	App      string    // the binary, e.g. patient-service
	Summary  string    // one sentence: what the service does
	Sections []Section // what each mode of the command reads
}

// Section is one mode of a command (running the service, its migrate
// step) and the configuration it reads.
type Section struct {
	Title  string // e.g. "patient-service" or "patient-service migrate"
	Doc    string // when this mode runs and what it does
	Config any    // a tagged struct (or a pointer to one)
}

// HandleHelp answers `-h`, `--help` and `help` with the usage page, and
// `--help-markdown` with the command's part of docs/configuration.md; it
// reports whether it answered (then the command should exit 0).
func HandleHelp(args []string, w io.Writer, cmd Command) bool {
	if len(args) < 2 {
		return false
	}
	switch args[1] {
	case "-h", "-help", "--help", "help":
		Usage(w, cmd)
	case "--help-markdown":
		Markdown(w, cmd)
	default:
		return false
	}
	return true
}

// Usage writes the command's help page: what it does, then each mode with
// every variable, its default and its meaning.
func Usage(w io.Writer, cmd Command) {
	fmt.Fprintf(w, "%s: %s\n", cmd.App, cmd.Summary)
	for _, s := range cmd.Sections {
		fmt.Fprintf(w, "\nUsage: %s\n  %s\n\nEnvironment:\n", s.Title, s.Doc)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, v := range Vars(s.Config) {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, defaultText(v), v.Help)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\n%s --help prints this page; --help-markdown prints it for docs/configuration.md.\n", cmd.App)
}

func defaultText(v Var) string {
	switch {
	case v.Required:
		return "(required)"
	case v.Default == "":
		return "(unset)"
	}
	return "[" + v.Default + "]"
}

// Markdown writes the command's part of docs/configuration.md.
func Markdown(w io.Writer, cmd Command) {
	fmt.Fprintf(w, "## %s\n\n%s\n", cmd.App, cmd.Summary)
	for _, s := range cmd.Sections {
		fmt.Fprintf(w, "\n### `%s`\n\n%s\n\n", s.Title, s.Doc)
		fmt.Fprintln(w, "| Variable | Default | Meaning |")
		fmt.Fprintln(w, "|---|---|---|")
		for _, v := range Vars(s.Config) {
			def := "*required*"
			if !v.Required {
				def = "*unset*"
				if v.Default != "" {
					def = "`" + v.Default + "`"
				}
			}
			help := v.Help
			if v.Secret {
				help += " *Secret: masked in the start-up log.*"
			}
			fmt.Fprintf(w, "| `%s` | %s | %s |\n", v.Name, def, strings.ReplaceAll(help, "|", `\|`))
		}
	}
}
