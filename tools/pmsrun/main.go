// Command pmsrun runs the Patient Management System locally without the Dapr
// CLI or containers.
//
//	pmsrun [-f dapr.yaml]                 start everything; Ctrl-C stops it
//	pmsrun with-postgres -- CMD [ARGS]    run CMD with PMS_TEST_DATABASE_URL
//	                                      pointing at a throwaway cluster
//	pmsrun kafka-broker [-listen A] [-advertise A] | -check A
//	                                      serve only the dev Kafka broker
//	                                      (its container image's command),
//	                                      or check that one answers
//	pmsrun object-store -cert F -key F [-listen A] [-bucket B]
//	                                      serve only the dev S3-compatible
//	                                      object store (HTTPS; keys from
//	                                      OBJECT_STORE_ACCESS_KEY and
//	                                      OBJECT_STORE_SECRET_KEY)
//	pmsrun trace-store [-otlp A] [-listen A]
//	                                      serve only the trace store: OTLP
//	                                      in (gRPC), the trace view and
//	                                      Jaeger's query API shape out (its
//	                                      container image's command)
//	pmsrun compose-init [-dir D]          write .env and secrets/ for
//	                                      docker-compose.yml
//	pmsrun deps [-env FILE]               serve PostgreSQL, the dev Kafka
//	                                      broker and Sentry on their fixed
//	                                      ports for `dapr run -f .`
//	pmsrun import [-gateway URL] FILE     import an NDJSON file of FHIR
//	                                      Patients through the gateway's
//	                                      $import, in parts, and write the
//	                                      refused lines' outcomes beside it
//	pmsrun sample-patients -n N           write N synthetic FHIR Patients
//	                                      as NDJSON (for trying an import)
//
// Environment: PMS_POSTGRES_URL uses an existing PostgreSQL server (admin
// URL) instead of a throwaway cluster; KAFKA_BROKERS uses an existing Kafka
// instead of the in-memory dev broker; PMS_TRACING=off runs without traces
// (by default every request is traced, and the trace view and its
// Jaeger-shaped API listen on http://127.0.0.1:16686).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/pms-dapr/pms/tools/pmsrun/runner"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	sub := ""
	if len(os.Args) > 1 {
		sub = os.Args[1]
	}
	switch sub {
	case "with-postgres":
		err = withPostgres(ctx, os.Args[2:])
	case "kafka-broker":
		err = kafkaBroker(ctx, os.Args[2:])
	case "object-store":
		err = objectStore(ctx, os.Args[2:])
	case "trace-store":
		err = traceStore(ctx, os.Args[2:])
	case "compose-init":
		err = composeInit(ctx, os.Args[2:])
	case "deps":
		err = deps(ctx, os.Args[2:])
	case "import":
		err = importFile(ctx, os.Args[2:])
	case "sample-patients":
		err = samplePatients(os.Args[2:])
	default:
		err = run(ctx, os.Args[1:])
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "pmsrun:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("pmsrun", flag.ContinueOnError)
	tmpl := fs.String("f", ".", "multi-app run template (dapr.yaml) or its directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Println("Starting PostgreSQL, the Kafka broker, five apps and their Dapr sidecars...")
	sys, err := runner.Start(ctx, runner.Options{
		Template:     *tmpl,
		Console:      os.Stdout,
		PostgresURL:  os.Getenv("PMS_POSTGRES_URL"),
		KafkaBrokers: os.Getenv("KAFKA_BROKERS"),
		NoTracing:    os.Getenv("PMS_TRACING") == "off",
	})
	if err != nil {
		return err
	}
	defer sys.Stop()
	printSummary(sys)
	select {
	case <-ctx.Done():
		fmt.Println("\nStopping...")
		sys.Stop()
		fmt.Println("Stopped; nothing left running.")
		return nil
	case crash := <-sys.Crashed():
		sys.Stop()
		return crash
	}
}

func printSummary(sys *runner.System) {
	fmt.Println()
	fmt.Println("The system is up.")
	if gw := sys.App("api-gateway"); gw != nil {
		fmt.Printf("  Gateway (REST API): http://localhost:%d\n", gw.AppPort)
	}
	if sys.Postgres != nil {
		fmt.Printf("  PostgreSQL:         throwaway cluster on 127.0.0.1:%d (deleted on exit)\n", sys.Postgres.Port)
	} else {
		fmt.Println("  PostgreSQL:         PMS_POSTGRES_URL")
	}
	fmt.Printf("  Kafka brokers:      %s\n", sys.KafkaBrokers)
	if t := sys.Traces; t != nil {
		fmt.Printf("  Traces:             %s (every request; the API: %s/api/traces?service=api-gateway; PMS_TRACING=off runs without)\n", t.URL, t.URL)
	} else {
		fmt.Println("  Traces:             off (PMS_TRACING=off)")
	}
	if p := sys.Prometheus; p != nil {
		fmt.Printf("  Prometheus:         %s (every app and sidecar; the alerts: %s/classic/alerts)\n", p.URL, p.URL)
	} else {
		fmt.Println("  Prometheus:         not installed (Debian: apt-get install prometheus; make prerequisites does)")
	}
	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  APP\tAPP PORT\tDAPR HTTP\tDAPR GRPC\tLOGS")
	for _, a := range sys.Apps() {
		fmt.Fprintf(w, "  %s\t%d\t%d\t%d\t%s\n", a.ID, a.AppPort, a.DaprHTTPPort, a.DaprGRPCPort, a.LogDir)
	}
	w.Flush()
	if sys.AdminPassword != "" {
		fmt.Println()
		fmt.Println("  Development admin (shown once; lives as long as this run's database):")
		fmt.Printf("    email:    %s\n    password: %s   (also in %s until exit)\n", sys.AdminEmail, sys.AdminPassword, sys.AdminPasswordFile())
	}
	fmt.Println()
	fmt.Println("Log in: see docs/getting-started.md, \"Walk-through\".")
	fmt.Println("Press Ctrl-C to stop everything.")
}

// withPostgres runs args with PMS_TEST_DATABASE_URL set to a throwaway
// cluster that is removed afterwards.
func withPostgres(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return errors.New("with-postgres: no command given")
	}
	pg, err := runner.StartPostgres(ctx, ".data", runner.NewPortPicker(), false, false, nil)
	if err != nil {
		return err
	}
	defer pg.Stop()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "PMS_TEST_DATABASE_URL="+pg.URL)
	return cmd.Run()
}

// kafkaBroker serves the dev Kafka broker alone until ctx ends (the
// Kafka stand-in image's command).
func kafkaBroker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("pmsrun kafka-broker", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9092", "address to listen on")
	advertise := fs.String("advertise", "127.0.0.1:9092", "address clients are told to use (host:port)")
	check := fs.String("check", "", "only check that a broker answers at this address (host:port), as a container health check")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *check != "" {
		return runner.PingKafka(ctx, *check)
	}
	k, err := runner.ServeDevKafka(*listen, *advertise)
	if err != nil {
		return err
	}
	defer k.Stop()
	fmt.Printf("dev Kafka broker listening on %s, advertised as %s\n", *listen, *advertise)
	<-ctx.Done()
	return nil
}

// traceStore serves the trace store alone until ctx ends: the Compose
// stack's stand-in for Jaeger where no registry is reachable.
func traceStore(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("pmsrun trace-store", flag.ContinueOnError)
	otlp := fs.String("otlp", "127.0.0.1:4317", "address the OTLP (gRPC) receiver listens on")
	listen := fs.String("listen", "127.0.0.1:16686", "address the trace view and its API listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, err := runner.ServeTraces(*otlp, *listen)
	if err != nil {
		return err
	}
	defer t.Stop()
	fmt.Printf("trace store: OTLP on %s, view and API on %s\n", t.AppEndpoint, t.URL)
	<-ctx.Done()
	return nil
}

// objectStore serves the dev S3-compatible object store alone until ctx
// ends (the one-node cluster's backup store). The keys come from the
// environment, so they are not in the process list.
func objectStore(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("pmsrun object-store", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9000", "address to listen on")
	certFile := fs.String("cert", "", "the server's TLS certificate (PEM)")
	keyFile := fs.String("key", "", "the server's TLS key (PEM)")
	bucket := fs.String("bucket", "pms-backups", "the bucket to create")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *certFile == "" || *keyFile == "" {
		return errors.New("object-store: -cert and -key are required (it serves HTTPS only)")
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return fmt.Errorf("object-store: %w", err)
	}
	s, err := runner.ServeDevObjectStore(runner.ObjectStoreConfig{
		Listen: *listen, TLS: cert, Bucket: *bucket,
		AccessKey: os.Getenv("OBJECT_STORE_ACCESS_KEY"),
		SecretKey: os.Getenv("OBJECT_STORE_SECRET_KEY"),
	})
	if err != nil {
		return err
	}
	defer s.Stop()
	fmt.Printf("dev object store listening on https://%s, bucket %s\n", s.Addr, *bucket)
	<-ctx.Done()
	return nil
}
