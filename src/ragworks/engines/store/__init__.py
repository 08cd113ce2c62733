"""engines store package."""
