"""Webhook subscriptions, signed deliveries with retries and a dead-letter state."""
