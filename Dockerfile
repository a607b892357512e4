# Image for the web, worker and beat services of docker-compose.yml.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# Dependencies from the lock alone (README, "Updating dependencies"): uv pinned by hash, then
# exactly uv.lock's versions with every file checked against its SHA-256, into /opt/venv.
# The project's code runs from /app (packages = []), so nothing of it is built or installed.
COPY requirements-uv.txt pyproject.toml uv.lock ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements-uv.txt \
 && UV_PROJECT_ENVIRONMENT=/opt/venv UV_PYTHON_DOWNLOADS=never \
    uv sync --locked --no-install-project --no-cache \
 && pip uninstall --yes uv
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
COPY . .
# collectstatic loads the settings at build time, where no SECRET_KEY exists yet (nothing is
# signed): the development key is allowed for this one command (README "Security").
RUN ALLOW_DEVELOPMENT_SECRET_KEY=1 python manage.py collectstatic --noinput -v0
EXPOSE 8000
# Workers, threads and the connection pool as measured in bench/TUNING.md.
ENV DATABASE_POOL=4
CMD ["gunicorn", "config.wsgi:application", "-c", "config/gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
