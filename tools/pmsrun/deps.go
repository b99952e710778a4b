package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pms-dapr/pms/tools/pmsrun/runner"
)

// deps serves what dapr.yaml's apps expect beside them when the Dapr CLI
// runs them (`dapr run -f .`): PostgreSQL on 127.0.0.1:5432 with each
// app's database provisioned and migrated, the dev Kafka broker on
// 127.0.0.1:9092 and Sentry on 127.0.0.1:50001. It writes the variables
// the CLI's shell must export to envFile and removes it when it stops.
func deps(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("pmsrun deps", flag.ContinueOnError)
	tmpl := fs.String("f", ".", "multi-app run template (dapr.yaml) or its directory")
	envFile := fs.String("env", ".data/dapr-cli.env", "where to write the variables to export before `dapr run -f .`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sys, err := runner.Start(ctx, runner.Options{Template: *tmpl, Console: os.Stdout, DependenciesOnly: true})
	if err != nil {
		return err
	}
	defer sys.Stop()
	env, err := cliEnv(sys)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*envFile), 0o755); err != nil {
		return err
	}
	defer os.Remove(*envFile)
	if err := os.WriteFile(*envFile, []byte(env), 0o600); err != nil {
		return fmt.Errorf("deps: %w", err)
	}
	fmt.Printf("\nPostgreSQL on 127.0.0.1:5432, the Kafka broker on %s and Sentry on %s are up.\n", sys.KafkaBrokers, sys.Sentry.Address)
	fmt.Printf("In another shell, from the repository root: . %s && dapr run -f .\n", *envFile)
	if sys.AdminPassword != "" {
		fmt.Printf("Development admin: %s, password in %s.\n", sys.AdminEmail, sys.AdminPasswordFile())
	}
	fmt.Println("Ctrl-C stops them and deletes the database.")
	<-ctx.Done()
	return nil
}

// cliEnv is the shell script exporting what the CLI's sidecars and apps
// need from their environment.
func cliEnv(sys *runner.System) (string, error) {
	u, err := url.Parse(sys.PostgresURL)
	if err != nil {
		return "", fmt.Errorf("deps: %w", err)
	}
	pgPassword, _ := u.User.Password()
	token := make([]byte, 32)
	if _, err := rand.Read(token); err != nil {
		return "", err
	}
	vars := [][2]string{
		// dapr.yaml's DATABASE_URLs name the postgres user without a
		// password; PostgreSQL clients take it from PGPASSWORD.
		{"PGPASSWORD", pgPassword},
		{"KAFKA_BROKERS", sys.KafkaBrokers},
		{"DAPR_TRUST_ANCHORS", string(sys.Sentry.TrustAnchors)},
		// The CLI gives every sidecar and app the same environment: one app
		// API token for all. It gives the sidecars no Dapr API token (its
		// own metadata calls carry none), so the apps are told they need
		// none.
		{"APP_API_TOKEN", hex.EncodeToString(token)},
		{"DAPR_API_TOKEN_OPTIONAL", "true"},
	}
	if sys.AdminPassword != "" {
		vars = append(vars, [2]string{"AUTH_BOOTSTRAP_ADMIN_PASSWORD", sys.AdminPassword})
	}
	var b strings.Builder
	b.WriteString("# Written by `pmsrun deps` for `dapr run -f .`; removed when it stops.\n")
	for _, v := range vars {
		fmt.Fprintf(&b, "export %s='%s'\n", v[0], strings.ReplaceAll(v[1], "'", `'\''`))
	}
	return b.String(), nil
}
