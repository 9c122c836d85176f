# The ledger's processes (see docker-compose.yml: `ledger relay`, `ledger ingest`, `ledger project`).
# Two stages: the first builds the wheel from the build context (.dockerignore keeps it to pyproject.toml, README.md,
# ledger/, consumers/ and schemas/), the second installs that wheel alone, so the image runs what
# tests/e2e/test_wheel.py installs and checks, with no sources beside it.

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels .


FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --system --no-create-home --shell /usr/sbin/nologin ledger

WORKDIR /app
USER ledger
CMD ["ledger", "--help"]
