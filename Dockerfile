# One image for every project service of the demo (simulator, gateway, analytics, backfill);
# docker-compose.yml picks the twin sub-command. Build: docker compose build
# Dependency versions are pinned by constraints.txt (scripts/lock.sh; CI checks it is current).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
# PYTHONDONTWRITEBYTECODE keeps the image clean at run time, so the project's bytecode is
# compiled here: otherwise every twin command compiles each project module it imports.
RUN pip install -c constraints.txt -e ".[live,influx]" \
    && python -m compileall -q plant_sim gateway analytics dashboards twin twin_io \
    && useradd --create-home --uid 10001 twin \
    && mkdir -p /data \
    && chown twin /data

USER twin
ENTRYPOINT ["twin"]
CMD ["--help"]
