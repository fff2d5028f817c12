#!/usr/bin/env bash
# `make run`: migrate, load the demo data, then web (127.0.0.1:$RUN_PORT, default 8000), a Celery worker
# and beat. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ ! -f .env ]; then
  # A local .env (git-ignored) with a secret key of its own, so `.venv/bin/python manage.py ...` works in
  # another terminal too. Production sets its variables in the environment instead.
  (umask 077 && {
    echo "# Written by 'make run' for this checkout (see .env.example for every variable)."
    echo "DJANGO_SECRET_KEY=$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')"
    echo "DJANGO_DEBUG=true"
  } > .env)
  echo "Wrote .env with a generated DJANGO_SECRET_KEY and DJANGO_DEBUG=true (manage.py reads it)."
fi
set -a; . ./.env; set +a
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
export TWILIO_AUTH_TOKEN="${TWILIO_AUTH_TOKEN:-dev-auth-token}"
RUN_PORT="${RUN_PORT:-8000}"
case "$RUN_PORT" in
  '' | *[!0-9]*) echo "RUN_PORT must be a port number (got '$RUN_PORT')." >&2; exit 2 ;;
esac
# Twilio's signatures and absolute TwiML URLs use this origin: follow the port unless .env says otherwise.
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:$RUN_PORT}"
if ! $PY -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.close()' "$RUN_PORT" 2>/dev/null; then
  echo "Port $RUN_PORT on 127.0.0.1 is in use: stop what runs there or pick another, e.g. RUN_PORT=8001 make run." >&2
  exit 1
fi
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

$PY manage.py runserver "127.0.0.1:$RUN_PORT" --noreload & pids+=($!)
.venv/bin/celery -A roulette worker --loglevel=INFO --concurrency=2 & pids+=($!)
.venv/bin/celery -A roulette beat --loglevel=INFO --schedule var/celerybeat-schedule & pids+=($!)

echo "Admin: http://127.0.0.1:$RUN_PORT/admin/  (login printed above by seed_demo)"
echo "API docs: http://127.0.0.1:$RUN_PORT/api/v1/docs/  Press Ctrl-C to stop."
wait -n
