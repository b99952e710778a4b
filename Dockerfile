# syntax=docker/dockerfile:1
# One image for any of the five apps:
#   docker build --build-arg APP=patient-service --build-arg HEALTH_PORT=4000 -t pms/patient-service .
# The app is built as a static binary and runs as a non-root user on a
# distroless base; the sidecar is the official daprio/daprd image.
#
# The base images are build arguments whose defaults are the official
# images. Without a registry, pass local equivalents (`make images` builds
# them offline; docs/operations/compose.md):
#   --build-arg GO_IMAGE=localhost/pms-local/golang:1.26.10-bookworm
#   --build-arg RUNTIME_IMAGE=localhost/pms-local/static:nonroot
ARG GO_IMAGE=golang:1.26.10-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOWORK=off
# Modules first, so a source change does not download them again. Each app
# is its own module that replaces platform and proto by path, so it builds
# without the workspace (and without the runner and test modules).
COPY platform/go.mod platform/go.sum platform/
COPY proto/go.mod proto/go.sum proto/
COPY tools/healthcheck/go.mod tools/healthcheck/
COPY apps/api-gateway/go.mod apps/api-gateway/go.sum apps/api-gateway/
COPY apps/auth-service/go.mod apps/auth-service/go.sum apps/auth-service/
COPY apps/patient-service/go.mod apps/patient-service/go.sum apps/patient-service/
COPY apps/billing-service/go.mod apps/billing-service/go.sum apps/billing-service/
COPY apps/analytics-service/go.mod apps/analytics-service/go.sum apps/analytics-service/
RUN for d in apps/*/; do (cd "$d" && go mod download) || exit 1; done
COPY platform/ platform/
COPY proto/ proto/
COPY tools/healthcheck/ tools/healthcheck/
COPY apps/ apps/
# Every app in one step: the five images share this layer, so building all
# of them (docker compose build) compiles the shared code once. The build
# cache is emptied in the same step, so the layer holds only the binaries.
RUN for d in apps/*/; do \
      a=$(basename "$d"); \
      (cd "$d" && go build -trimpath -ldflags="-s -w" -o "/out/$a" .) || exit 1; \
    done && \
    (cd tools/healthcheck && go build -trimpath -ldflags="-s -w" -o /out/healthcheck .) && \
    go clean -cache
ARG APP
RUN test -n "${APP}" && test -f "/out/${APP}" || \
    { echo "build with --build-arg APP=<app-id>, one of: $(ls /out | grep -v healthcheck | tr '\n' ' ')" >&2; exit 1; }

FROM ${RUNTIME_IMAGE}
ARG APP
ARG HEALTH_PORT=4000
LABEL org.opencontainers.image.title="pms ${APP}"
COPY --from=build /out/${APP} /app
COPY --from=build /out/healthcheck /healthcheck
# The gateway's bearer middleware manifest (JWT_BEARER_COMPONENT).
COPY dapr/middleware/jwt-bearer.yaml /etc/pms/jwt-bearer.yaml
ENV HEALTHCHECK_URL=http://127.0.0.1:${HEALTH_PORT}/healthz \
    JWT_BEARER_COMPONENT=/etc/pms/jwt-bearer.yaml
USER nonroot:nonroot
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/healthcheck"]
ENTRYPOINT ["/app"]
