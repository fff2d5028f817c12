FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir .
COPY . .
RUN pip install --no-cache-dir --no-deps -e . && useradd --create-home roulette && mkdir -p var && chown roulette var
USER roulette
EXPOSE 8000
CMD ["gunicorn", "roulette.wsgi:application", "--bind", "0.0.0.0:8000"]
