"""What a thin beat task does after its service: one line in the log, and the result as text."""

import logging


def logged(logger: logging.Logger, label: str, result) -> str:
    """Log `label: result` on the task's own logger; the task's result, as text."""
    logger.info("%s: %s", label, result)
    return str(result)
