# syntax=docker/dockerfile:1
# PKG service image: slim, non-root (numeric 10001:10001, so Kubernetes can verify
# runAsNonRoot), with a health check. Build: docker build -t pkg .
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN python -m venv /opt/pkg && /opt/pkg/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/pkg/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PKG_HOST=0.0.0.0 \
    PKG_PORT=8080 \
    PKG_SNAPSHOT_CACHE_DIR=/var/lib/pkg/cache
RUN groupadd --system --gid 10001 pkg \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/pkg --no-create-home pkg \
    && mkdir -p /var/lib/pkg/cache && chown -R 10001:10001 /var/lib/pkg
COPY --from=build /opt/pkg /opt/pkg
WORKDIR /srv/pkg
COPY alembic.ini ./
COPY alembic ./alembic
COPY examples ./examples
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/health/ready', timeout=2).status == 200 else 1)"]
# Tokens come from the environment (PKG_ADMIN_TOKENS, PKG_EVALUATOR_TOKENS): without them the
# server refuses to bind 0.0.0.0, on purpose.
CMD ["pkgctl", "serve"]
