"""HTTP API: routing with typed models, middlewares, OpenAPI, health."""
