# syntax=docker/dockerfile:1
# PKG service image: slim, non-root (numeric 10001:10001, so Kubernetes can verify
# runAsNonRoot), with a health check. Build: docker build -t pkg .
# Every Python package comes from uv.lock, checked against its hash (the same lock as
# `make run` and `make test`); the installer itself from scripts/uv-requirements.txt.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/pkg
WORKDIR /src
# the C compiler for the decision core (scripts/build_core.py), in this stage only: the image
# ships none. Debian's current gcc, unpinned: it only builds, and the result is tested below.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY scripts/uv-requirements.txt /tmp/uv-requirements.txt
RUN pip install --require-hashes --no-deps -r /tmp/uv-requirements.txt
# the dependencies first, in a layer of their own that only a new lock rebuilds
# (clients/python is pkg-client, a workspace member the service depends on: its pyproject
# first, so the workspace resolves; its code with the service's)
COPY pyproject.toml uv.lock README.md ./
COPY clients/python/pyproject.toml clients/python/README.md ./clients/python/
RUN uv sync --frozen --no-install-workspace --no-editable
COPY clients/python/src ./clients/python/src
COPY app ./app
RUN uv sync --frozen --no-editable
# the decision core compiled with mypyc (the locked mypy and setuptools, in /opt/build, which is
# not copied) into the installed package, then loaded once to prove it is the compiled one
COPY scripts/build_core.py ./scripts/
RUN UV_PROJECT_ENVIRONMENT=/opt/build uv sync --frozen --no-editable --extra compile \
    && /opt/build/bin/python scripts/build_core.py \
       --into /opt/pkg/lib/python3.11/site-packages/app/domain/_compiled \
    && /opt/pkg/bin/python -P -c "from app.domain import native; assert native.COMPILED"

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
