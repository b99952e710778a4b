module github.com/pms-dapr/pms/tools/healthcheck

go 1.26.5

toolchain go1.26.10
