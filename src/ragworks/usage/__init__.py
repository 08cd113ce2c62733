"""Usage analytics: the request log's records, their hourly rollups in the database, and reports."""
