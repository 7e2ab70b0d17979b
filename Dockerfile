# The leaderboards service: gunicorn serving deltacrown.wsgi (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# collectstatic only reads settings; the development key it gets here is never used at run time
# (DJANGO_ENV=production there requires a real DJANGO_SECRET_KEY).
RUN python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app deltacrown \
    && chown -R deltacrown /app
USER deltacrown

EXPOSE 8000

# Prometheus multiprocess mode for the gunicorn workers only (set here, not as an image-wide ENV:
# any other command, such as migrate, would then need the folder too). The folder is emptied at
# start. Two sync workers per two cores was the best throughput measured on our machines.
CMD ["sh", "-c", "export PROMETHEUS_MULTIPROC_DIR=\"${PROMETHEUS_MULTIPROC_DIR:-/tmp/prometheus-multiproc}\" && rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec gunicorn deltacrown.wsgi:application --config deltacrown/gunicorn.conf.py --bind 0.0.0.0:8000 --workers 2 --timeout 30"]
