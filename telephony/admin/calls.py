"""Admin: calls."""
