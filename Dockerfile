FROM python:3.11-slim
# gettext: compilemessages builds the translations (.mo files are not in the repository).
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir .
COPY . .
RUN pip install --no-cache-dir --no-deps -e . \
    && DJANGO_SECRET_KEY=build python manage.py compilemessages --ignore=.venv \
    && useradd --create-home roulette && mkdir -p var && chown roulette var
USER roulette
EXPOSE 8000
CMD ["gunicorn", "roulette.wsgi:application", "--bind", "0.0.0.0:8000"]
