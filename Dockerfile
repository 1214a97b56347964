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
# A virtualenv with no pip or setuptools of its own: the base image's pip installs into it
# (`--python`), so nothing that only installs reaches the runtime image.
RUN python -m venv --without-pip /opt/mlship
# strip, for the packages' own extension modules below; this stage never reaches the runtime
# image, so its version is whatever the base's Debian release has.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends binutils \
 && rm -rf /var/lib/apt/lists/*
# This layer is reused until the lock changes. Only what serving imports is installed (DVC, the
# MLflow server and plotting stay out: a third of the size): requirements/serve.txt, the closure
# of requirements/serve.in at requirements.txt's versions without what only a Databricks
# registry imports (requirements/serve.excludes), every file checked against its hash.
# SERVING_EXTRAS=databricks installs requirements/serve-databricks.txt instead (15 MB more).
# No bytecode for every module (the runtime stage compiles what serving imports), and what only
# building or testing against a package uses: test suites, type stubs, Cython and C sources and
# headers, and the symbols of the packages' own extension modules (strip: 31 MB). The libraries
# bundled in *.libs/ keep theirs: stripping a library auditwheel patched breaks it ("ELF load
# command address/offset not page-aligned", numpy's OpenBLAS).
ARG SERVING_EXTRAS=""
COPY requirements/serve*.txt ./
RUN lock="serve${SERVING_EXTRAS:+-$SERVING_EXTRAS}.txt" \
 && { test -f "$lock" || { echo "SERVING_EXTRAS=$SERVING_EXTRAS: no requirements/$lock" >&2; exit 1; }; } \
 && python -m pip --python /opt/mlship/bin/python install --require-hashes --no-deps \
        --no-compile -r "$lock" \
 && site=/opt/mlship/lib/python3.11/site-packages \
 && find "$site" -depth -type d -name tests -prune -exec rm -rf {} + \
 && find "$site" -type f \( -name '*.pyi' -o -name '*.pxd' -o -name '*.pyx' -o -name '*.pxi' \
        -o -name '*.[ch]' -o -name '*.cpp' -o -name '*.hpp' \) -delete \
 && rm -rf "$site/numpy/_core/include" \
 && find "$site" -path "$site/*.libs" -prune -o -type f -name '*.so' \
        -exec strip --strip-unneeded {} +

# --------------------------------------------------------------------------- the package wheel
FROM deps AS wheel
COPY pyproject.toml README.md* ./
COPY src ./src
RUN python -m pip wheel --no-deps --wheel-dir /build/dist .

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
# PYTHONDONTWRITEBYTECODE: the base's pip and stdlib ship no bytecode, and running pip would
# otherwise leave 12 MB of it in this layer.
RUN PYTHONDONTWRITEBYTECODE=1 python -m pip --python /opt/mlship/bin/python install \
        --no-deps --no-cache-dir --no-compile /tmp/dist/*.whl \
 && rm -rf /tmp/dist
COPY ${MODEL_DIR}/model.skops ${MODEL_DIR}/model.json /opt/mlship-model/
# Bytecode for exactly what serving imports (the service, uvicorn's protocols, the model's own
# classes), written now by loading the model and the app as `mlship serve` does: the root
# filesystem is read-only at run time, and compiling at each start costs seconds.
RUN /opt/mlship/bin/python -c "import os; \
from mlship.serving.settings import ServeSettings; from mlship.serving.loading import load_models; \
from mlship.serving.app import create_app; from mlship.serving.limits import server_config; \
s = ServeSettings(champion='/opt/mlship-model'); m = load_models(s.champion, None, s.mlflow_dir); \
server_config(create_app(s, m), s, 'warning').load(); os._exit(0)"
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
