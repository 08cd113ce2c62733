"""engines embed package."""
