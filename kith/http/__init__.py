"""Cross-cutting HTTP: wire models, error envelope, middleware, pagination, ETags."""
