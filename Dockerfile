# Image for the web, worker and beat services of docker-compose.yml.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir -e . 2>/dev/null || true
COPY . .
# collectstatic loads the settings at build time, where no SECRET_KEY exists yet (nothing is
# signed): the development key is allowed for this one command (README "Security").
RUN pip install --no-cache-dir -e . && ALLOW_DEVELOPMENT_SECRET_KEY=1 python manage.py collectstatic --noinput -v0
EXPOSE 8000
# Workers, threads and the connection pool as measured in bench/TUNING.md.
ENV DATABASE_POOL=4
CMD ["gunicorn", "config.wsgi:application", "-c", "config/gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
