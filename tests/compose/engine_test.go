package compose_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// engine is the container engine the test drives: Docker, or podman
// through its Docker-compatible API.
type engine struct {
	docker *testcontainers.DockerClient
	// libpod reaches podman's own API on the same socket; nil on Docker.
	libpod *http.Client
}

func newEngine(t *testing.T) *engine {
	t.Helper()
	ctx := context.Background()
	docker, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatalf("no container engine: %v (start Docker, or podman's socket: docs/operations/compose.md)", err)
	}
	t.Cleanup(func() { docker.Close() })
	if _, err := docker.Ping(ctx, client.PingOptions{}); err != nil {
		t.Fatalf("no container engine answers at %s: %v (start Docker, or podman's socket: docs/operations/compose.md)", docker.DaemonHost(), err)
	}
	e := &engine{docker: docker}
	if u, err := url.Parse(docker.DaemonHost()); err == nil && u.Scheme == "unix" {
		c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", u.Path)
			},
		}}
		if resp, err := c.Get("http://podman/libpod/_ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				e.libpod = c
			}
		}
	}
	return e
}

// projectContainers lists the containers of a Compose project, stopped ones
// too.
func (e *engine) projectContainers(ctx context.Context, project string) ([]containerInfo, error) {
	res, err := e.docker.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", "com.docker.compose.project="+project),
	})
	if err != nil {
		return nil, err
	}
	var out []containerInfo
	for _, c := range res.Items {
		info := containerInfo{ID: c.ID, Service: c.Labels["com.docker.compose.service"], State: string(c.State)}
		for _, p := range c.Ports {
			if p.PublicPort != 0 {
				info.Published = append(info.Published, fmt.Sprintf("%s:%d->%d", p.IP, p.PublicPort, p.PrivatePort))
			}
		}
		out = append(out, info)
	}
	return out, nil
}

type containerInfo struct {
	ID, Service, State string
	Published          []string // host ip:port->container port
}

// health is a container's health status ("" when it has no health check).
func (e *engine) health(ctx context.Context, id string) (string, error) {
	res, err := e.docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return "", err
	}
	if res.Container.State == nil || res.Container.State.Health == nil {
		return "", nil
	}
	return string(res.Container.State.Health.Status), nil
}

// runHealthChecks makes podman run the health checks of the project's
// running containers every interval until ctx ends. podman 4 schedules
// health checks with systemd timers, and a machine without systemd never
// runs them, so `depends_on: condition: service_healthy` would wait
// forever; Docker runs them itself, and there this does nothing. The
// compose file is the same for both.
func (e *engine) runHealthChecks(ctx context.Context, project string, interval time.Duration) {
	if e.libpod == nil {
		return
	}
	for {
		cs, _ := e.projectContainers(ctx, project)
		for _, c := range cs {
			if c.State != "running" {
				continue
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://podman/v4.0.0/libpod/containers/"+c.ID+"/healthcheck", nil)
			if err != nil {
				continue
			}
			// 409: the container has no health check.
			if resp, err := e.libpod.Do(req); err == nil {
				resp.Body.Close()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// logs is the tail of a container's output, for a failure report.
func (e *engine) logs(ctx context.Context, id string) string {
	rc, err := e.docker.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "40"})
	if err != nil {
		return err.Error()
	}
	defer rc.Close()
	var out strings.Builder
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		fmt.Fprintf(&out, "(reading the log: %v)", err)
	}
	return out.String()
}
