module github.com/pms-dapr/pms/apps/api-gateway

go 1.26.5

require github.com/pms-dapr/pms/platform v0.0.0

require go.yaml.in/yaml/v3 v3.0.5 // indirect

require github.com/stretchr/testify v1.12.1

require (
	github.com/go-chi/chi/v5 v5.2.5
	github.com/google/uuid v1.6.0 // indirect
)

replace github.com/pms-dapr/pms/platform => ../../platform
