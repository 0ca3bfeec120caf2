# One image for all five services of a node and its web front end. It has no service-specific CMD:
# docker-compose.yml starts each one with
#   command: ["python", "-m", "services.<name>", "serve"]
# where `serve` runs that service's Alembic migrations, then listens on HTTP_HOST:HTTP_PORT.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The services run as this unprivileged user; the code below stays owned by root, so it cannot change it.
# /keys is where compose's keys volume is mounted: a new volume takes this owner, so the user can write its keys.
RUN useradd --system --user-group --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
 && mkdir /keys && chown app:app /keys

# Dependencies before the code, so that a code change reuses this layer. requirements.lock pins every package with
# its hashes; uv is only the installer and leaves the image afterwards.
COPY requirements.lock ./
RUN pip install uv==0.13.8 \
 && UV_NO_CACHE=1 UV_COMPILE_BYTECODE=1 uv pip sync --system --require-hashes requirements.lock \
 && pip uninstall --yes uv

COPY pyproject.toml ./
COPY shared/ shared/
COPY services/ services/
# What compose's init containers run: kafka-init (the node's principals and ACLs) and keycloak-realm (the demo realm).
COPY deploy/__init__.py deploy/kafka_security.py deploy/keycloak_realm.py deploy/
# Bytecode is compiled here because the app user cannot write it at run time.
RUN python -m compileall -q shared services deploy

USER app
# Inside a container a service must listen on all interfaces to be reachable; compose sets it too.
ENV HTTP_HOST=0.0.0.0
EXPOSE 8000 8001 8002 8003 8004 8005
