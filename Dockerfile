# The ledger's processes (see docker-compose.yml: `ledger relay`, `ledger ingest`, `ledger project`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
RUN pip install . \
    && useradd --system --no-create-home --shell /usr/sbin/nologin ledger

USER ledger
CMD ["ledger", "--help"]
