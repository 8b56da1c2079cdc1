# examengine API image: python:3.11-slim, the package installed with pip, run as a
# non-root user. The schema is upgraded on start (safe to repeat), then uvicorn serves
# the app factory with several workers.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY examengine ./examengine
COPY itembank ./itembank
RUN pip install . \
    && useradd --system --create-home --home-dir /home/examengine examengine \
    && mkdir -p /app/var && chown examengine /app/var

USER examengine
ENV EXAMENGINE_ENV=production \
    EXAMENGINE_HOST=0.0.0.0 \
    EXAMENGINE_PORT=8000 \
    EXAMENGINE_WORKERS=4
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]

# examengine serve: keep-alive and graceful shutdown from the settings (docs/operations.md).
CMD ["sh", "-c", "examengine db upgrade && exec examengine serve"]
