"""Beat-driven rota tasks: reminders, hand-off notices, gap alerts."""

__all__: list[str] = []
