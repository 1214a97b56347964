# The model service image: `mlship serve` on port 8000 with a model baked in.
#
# Build from the repository root once the pipeline has produced artifacts/model:
#   make image                       (podman or docker; IMAGE=... MODEL_DIR=... to override)
# The base is pinned by tag, not by digest: a digest cannot be checked on the offline machines
# that build and test this template, where a local stand-in carries the same tag. On GitHub the
# same file pulls the official image; pin a digest there (`python:3.11-slim-bookworm@sha256:...`)
# through PYTHON_IMAGE if your policy asks for one, and let Dependabot bump it.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --------------------------------------------------------------------------- dependencies
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /build
RUN python -m venv /opt/mlship
# This layer is reused until the lock changes. Only what serving imports is installed (DVC, the
# MLflow server and plotting stay out: a third of the size): requirements/serve.txt, the closure
# of requirements/serve.in at requirements.txt's versions, every file checked against its hash.
COPY requirements/serve.txt ./
RUN /opt/mlship/bin/pip install --require-hashes --no-deps -r serve.txt

# --------------------------------------------------------------------------- the package wheel
FROM deps AS wheel
COPY pyproject.toml README.md* ./
COPY src ./src
RUN /opt/mlship/bin/pip wheel --no-deps --wheel-dir /build/dist .

# --------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE}
ARG MODEL_DIR=artifacts/model
LABEL org.opencontainers.image.title="mlship model service" \
      org.opencontainers.image.description="FastAPI model service (mlship serve) with a baked-in model" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --gid 10001 mlship \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin mlship
# Dependencies and the package in separate layers: a code change leaves the big one cached.
COPY --from=deps /opt/mlship /opt/mlship
COPY --from=wheel /build/dist/ /tmp/dist/
RUN /opt/mlship/bin/pip install --no-deps --no-cache-dir /tmp/dist/*.whl \
 && rm -rf /tmp/dist
COPY ${MODEL_DIR}/model.skops ${MODEL_DIR}/model.json /opt/mlship-model/
ENV PATH=/opt/mlship/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OMP_NUM_THREADS=1 \
    MLSHIP_CHAMPION=/opt/mlship-model \
    MLSHIP_HOST=0.0.0.0 \
    MLSHIP_PORT=8000
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["mlship", "serve"]
