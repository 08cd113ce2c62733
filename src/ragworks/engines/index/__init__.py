"""engines index package."""
