"""aiohttp API framework: declared routes, middlewares, OpenAPI document, health report types."""
