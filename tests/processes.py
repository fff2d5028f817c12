"""Subprocesses the tests start (Celery workers, beats, gunicorn): stopping them the same way everywhere."""

import subprocess


def process_stop(process: subprocess.Popen) -> None:
    """Ask the subprocess to stop; kill it if it has not within 15 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
