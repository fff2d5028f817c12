"""Alert escalation tasks."""

__all__: list[str] = []
