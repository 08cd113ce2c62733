"""engines queue package."""
