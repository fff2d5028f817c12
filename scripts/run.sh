#!/usr/bin/env bash
# `make run`: migrate, load the demo data, then web (127.0.0.1:8000), a Celery worker and beat.
# Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .env ]; then set -a; . ./.env; set +a; fi
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
export TWILIO_AUTH_TOKEN="${TWILIO_AUTH_TOKEN:-dev-auth-token}"
PY=.venv/bin/python
mkdir -p var/broker/processed

$PY manage.py migrate --no-input
$PY manage.py seed_demo

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "Stopping web, worker and beat..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

$PY manage.py runserver 127.0.0.1:8000 --noreload & pids+=($!)
.venv/bin/celery -A roulette worker --loglevel=INFO --concurrency=2 & pids+=($!)
.venv/bin/celery -A roulette beat --loglevel=INFO --schedule var/celerybeat-schedule & pids+=($!)

echo "Admin: http://127.0.0.1:8000/admin/  (login printed above by seed_demo)"
echo "API docs: http://127.0.0.1:8000/api/v1/docs/  Press Ctrl-C to stop."
wait -n
