# syntax=docker/dockerfile:1
# One image for any of the five apps:
#   docker build --build-arg APP=patient-service --build-arg HEALTH_PORT=4000 -t pms/patient-service .
# The app is built as a static binary and runs as a non-root user on a
# distroless base; the sidecar is the official daprio/daprd image.

FROM golang:1.26.10-bookworm AS build
ARG APP
WORKDIR /src
# Each app is its own module that replaces platform and proto by path, so
# it builds without the workspace (and without the runner and test modules).
COPY platform/ platform/
COPY proto/ proto/
COPY tools/healthcheck/ tools/healthcheck/
COPY apps/${APP}/ apps/${APP}/
ENV CGO_ENABLED=0 GOWORK=off
RUN test -n "${APP}" || (echo "build with --build-arg APP=<app-id>" >&2; exit 1)
RUN cd apps/${APP} && go build -trimpath -ldflags="-s -w" -o /out/app .
RUN cd tools/healthcheck && go build -trimpath -ldflags="-s -w" -o /out/healthcheck .

FROM gcr.io/distroless/static-debian12:nonroot
ARG APP
ARG HEALTH_PORT=4000
LABEL org.opencontainers.image.title="pms ${APP}"
COPY --from=build /out/app /app
COPY --from=build /out/healthcheck /healthcheck
# The gateway's bearer middleware manifest (JWT_BEARER_COMPONENT).
COPY components/middleware/jwt-bearer.yaml /etc/pms/jwt-bearer.yaml
ENV HEALTHCHECK_URL=http://127.0.0.1:${HEALTH_PORT}/healthz \
    JWT_BEARER_COMPONENT=/etc/pms/jwt-bearer.yaml
USER nonroot:nonroot
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/healthcheck"]
ENTRYPOINT ["/app"]
