"""Per-caller token buckets behind the API's rate limits (in memory or in Redis)."""
