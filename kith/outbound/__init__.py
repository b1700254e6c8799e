"""The one outbound HTTP client: SSRF guard, timeouts, no redirects, circuit breaker."""
