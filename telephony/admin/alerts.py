"""Admin: alerts."""
