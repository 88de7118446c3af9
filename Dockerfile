# Base image of every pipeline image: Python, uv, the client libraries of the databases the
# pipelines extract from, and the root project (prefect_rj_iplanrio, with Prefect) synced into
# /app/.venv, so that a pipeline image only adds its own dependencies and files.
#
# Built and pushed by `nox -s build-base` (and before pipeline images when it is missing). The
# Python and uv images are build arguments: the defaults are the official public images, and
# the PIPELINES_PYTHON_IMAGE / PIPELINES_UV_IMAGE settings point them at a mirror or at the local
# stand-ins of scripts/standin-images.sh.
ARG PYTHON_IMAGE=python:3.13-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE}

# Runtime libraries of the database drivers: PostgreSQL (libpq), MySQL/MariaDB, and ODBC with
# FreeTDS for SQL Server. Debian's packages only.
# lint: ignore[HADOLINT-DL3008] the Python image's Debian release fixes the versions
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libpq5 libmariadb3 unixodbc tdsodbc \
    && rm -rf /var/lib/apt/lists/*

COPY --from=uv /uv /uvx /usr/local/bin/

# The image's own interpreter, never a downloaded one; files copied out of the uv cache, which
# BuildKit mounts from outside the image; bytecode compiled once, at build time. Workspace code
# (src/ here, pipelines/<name>/ in pipeline images) is imported from /app as in a checkout, so
# no build backend runs in an image and a code change is a plain COPY.
ENV UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    VIRTUAL_ENV=/app/.venv \
    PATH=/app/.venv/bin:$PATH \
    PYTHONPATH=/app/src:/app/pipelines \
    PYTHONUNBUFFERED=1

WORKDIR /app

# The root project's dependencies, from the lock alone: uv needs no member folder for this.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace

COPY src/ src/
