package service

import (
	"context"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/pms-dapr/pms/platform/httpserver"
)

// ServeGRPC serves srv on lis until ctx ends; then it reports NOT_SERVING
// through h and stops gracefully, cutting off what is still running after
// httpserver.ShutdownTimeout.
func ServeGRPC(ctx context.Context, log *slog.Logger, srv *grpc.Server, lis net.Listener, h *health.Server) error {
	log.Info("grpc server listening", "addr", lis.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	h.Shutdown()
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(httpserver.ShutdownTimeout):
		srv.Stop()
	}
	return <-served
}
