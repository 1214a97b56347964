# mlship: every check and pipeline step is a target here; the workflows call these targets,
# so `make ci` locally runs what the pull-request workflow runs.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# Stages run `python -m mlship.stages.<name>`; the virtualenv comes first on PATH for DVC.
export PATH := $(abspath $(BIN)):$(PATH)
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=
# No usage reports from MLflow (DVC's are off in .dvc/config): CI machines may reach nothing but
# the package registries. Set it to false to opt back in.
export MLFLOW_DISABLE_TELEMETRY ?= true
# Nor from CML (`cml comment` in pr-report.yml): any non-empty value turns its reports off
# (iterative/cml src/analytics.js). Set it empty to opt back in.
export ITERATIVE_DO_NOT_TRACK ?= 1

.PHONY: help install format format-check lint typecheck security workflow-lint test test-fast \
	test-system test-durations system-deps init data \
	repro pipeline ci bench-pipeline clean validate bench-ci pr-number pr-comment all-green \
	smoke baseline gate report serve bench-serve lock

help: ## Show this help
	@echo "usage: make <target>"
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-16s %s\n", $$1, $$2}'

# Installs come from locks with a hash for every file, compiled from requirements/*.in by
# `make lock`: uv installs them, itself installed by pip from requirements/uv.txt. Without GROUPS,
# `make install` and every target use the whole developer environment (requirements-dev.txt). With
# GROUPS (each CI job sets it), `make install` installs only those groups and each target installs
# just the groups it needs.
UV := $(BIN)/uv
UV_INSTALL := $(UV) pip install --python $(BIN)/python --require-hashes --quiet
# uv trusts the machine's CA store, as pip does (a proxy's CA may live only there).
export UV_SYSTEM_CERTS ?= 1
# uv copies files from its cache instead of hard-linking them: some machines (CI's among them)
# refuse link() between the cache and the virtualenv with EPERM, which uv does not fall back from.
export UV_LINK_MODE ?= copy
GROUPS ?=
ALL_GROUPS := runtime format lint security test workflow-lint
$(if $(filter-out $(ALL_GROUPS),$(GROUPS)),$(error GROUPS: unknown group '$(filter-out $(ALL_GROUPS),$(GROUPS))'; known: $(ALL_GROUPS)))
# A group's lock; `runtime` (requirements.txt) also installs this package, editable.
group_lock = $(if $(filter runtime,$(1)),requirements.txt,requirements/$(1).txt)
# A target's install prerequisite: the developer environment, or with GROUPS set the named groups.
needs = $(if $(strip $(GROUPS)),$(patsubst %,$(VENV)/.installed-%,$(1)),$(INSTALLED))

# A new venv starts without pip: ensurepip byte-compiles all of pip, seconds of CPU in every CI job.
# uv goes into it with the base interpreter's pip (`pip --python`, pip 22.3+) or, when that has
# none, with the pip ensurepip gives the venv. A venv without pip then gets, from uv, the wheel
# ensurepip bundles (tools call `python -m pip`), or ensurepip's own pip where the distribution
# unbundled that wheel (Debian's python3.11). Each command's own error says what failed.
define bootstrap_uv
test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
if $(PYTHON) -m pip --python $(BIN)/python --version >/dev/null 2>&1; then \
	$(PYTHON) -m pip --python $(BIN)/python install --quiet --require-hashes --no-deps -r requirements/uv.txt; \
else \
	echo "make: $(PYTHON) has no pip 22.3+ to install uv with: the virtualenv's own pip does (ensurepip)"; \
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --default-pip >/dev/null; \
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/uv.txt; \
fi
if ! $(BIN)/python -m pip --version >/dev/null 2>&1; then \
	wheel="$$($(BUNDLED_PIP))"; \
	if [[ -n "$$wheel" ]]; then $(UV) pip install --python $(BIN)/python --quiet "$$wheel"; \
	else $(BIN)/python -m ensurepip --default-pip >/dev/null; fi; \
fi
endef
BUNDLED_PIP = $(BIN)/python -c 'import ensurepip, pathlib; print(*sorted(pathlib.Path(ensurepip.__file__).parent.glob("_bundled/pip-*.whl"))[-1:])'
# On GitHub the job's uv cache is saved for the next run: uv's advice is to keep only the wheels it
# built from source, as downloading the others is faster than restoring them.
prune_uv_cache = $(if $(GITHUB_ACTIONS),$(UV) cache prune --ci --quiet)

$(INSTALLED): requirements/uv.txt requirements-dev.txt pyproject.toml
	$(bootstrap_uv)
	$(UV_INSTALL) -r requirements-dev.txt
	$(UV) pip install --python $(BIN)/python --quiet --no-deps -e .
	$(prune_uv_cache)
	touch $@

.SECONDEXPANSION:
$(VENV)/.installed-%: requirements/uv.txt $$(call group_lock,$$*) $$(if $$(filter runtime,$$*),pyproject.toml)
	$(bootstrap_uv)
	$(UV_INSTALL) -r $(call group_lock,$*)
	$(if $(filter runtime,$*),$(UV) pip install --python $(BIN)/python --quiet --no-deps -e .)
	$(prune_uv_cache)
	touch $@

install: $(call needs,$(GROUPS)) ## Create .venv from the locks: everything, or only GROUPS="format lint ..." (CI jobs)

# Universal locks (any OS, Python 3.11+) with every file's hash. uv keeps the versions already
# locked unless an input changed; UPGRADE=1 moves every pin to the newest release.
LOCK := $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes $(if $(UPGRADE),--upgrade)
lock: ## Regenerate every lock from requirements/*.in (UPGRADE=1 to upgrade everything)
	$(bootstrap_uv)
	$(LOCK) requirements/uv.in --output-file=requirements/uv.txt
	$(LOCK) requirements/runtime.in --output-file=requirements.txt
	$(LOCK) requirements/dev.in --output-file=requirements-dev.txt
	$(LOCK) requirements/serve.in --excludes requirements/serve.excludes --output-file=requirements/serve.txt
	$(LOCK) requirements/serve-databricks.in --output-file=requirements/serve-databricks.txt
	$(foreach group,$(filter-out runtime,$(ALL_GROUPS)),$(LOCK) requirements/$(group).in \
		--constraint requirements-dev.txt --output-file=requirements/$(group).txt;)

format: $(call needs,format) ## Reformat the code with black
	$(BIN)/black src tests tools benchmarks

format-check: $(call needs,format) ## Check formatting without changing files
	$(BIN)/black --check --diff --quiet src tests tools benchmarks

lint: $(call needs,runtime lint) ## Lint with pylint and flake8
	$(BIN)/pylint --score=n src tools
	$(BIN)/flake8 src tests tools benchmarks
	$(BIN)/lint-imports --no-logo

typecheck: $(call needs,runtime lint) ## Type-check src with mypy --strict
	$(BIN)/mypy

security: $(call needs,security) ## Bandit on src; dependency audit (safety with SAFETY_API_KEY, else pip-audit)
	$(BIN)/bandit -c pyproject.toml -q -r src tools
	$(BIN)/python tools/audit_deps.py

workflow-lint: $(call needs,workflow-lint) ## Lint .github (actionlint, shellcheck, zizmor, offline) and the Dockerfile (hadolint)
	$(BIN)/actionlint -shellcheck=$(abspath $(BIN))/shellcheck
	$(BIN)/zizmor --offline .github
	$(BIN)/hadolint Dockerfile

# Two test tiers (tests/tiers.py): `fast` needs no root and nothing installed by hand; `system`
# needs `make system-deps` once. A tier that selects no test fails (pytest exits 5).
# `make test` sets up what the system tier needs first (system-deps: sudo when not root).
# The coverage floor of `make test`: the fast tier alone covered 89.79 % of mlship's lines and
# branches in-process on 1 December 2026 (stages run as subprocesses are not counted). Raise it
# as tests are added; never lower it to pass.
COVERAGE_FLOOR ?= 89
test: $(call needs,runtime test workflow-lint) system-deps ## Run every test, both tiers (runs make system-deps first), with the coverage floor
	$(BIN)/python -m pytest --cov=mlship --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR) $(PYTEST_ARGS)

# The fast tier runs one pytest-xdist worker per core (`-n auto`: 2 on a 2-core machine). Each
# test file stays on one worker (loadfile): a module-scoped fixture is then built once, and
# tests that share one (tests/e2e/test_dvc_pipeline.py) run in their file's order. Files are
# handed out in collection order (no reorder), not largest first: xdist's default would leave
# the slowest files, each a single end-to-end test, for last. TEST_WORKERS=0: one process.
TEST_WORKERS ?= auto
FAST := -m fast -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
# TEST_SHARD=K/N runs the K-th of N parts of the fast tier (ci.yml's test matrix, one runner
# each): whole files, balanced by the durations `make test-durations` records (tests/shards.py).
TEST_SHARD ?=
test-fast: $(call needs,runtime test workflow-lint) ## Run the fast tier on every core: no root, container engine, act or servers (the PR test job; TEST_SHARD=K/N runs one part)
	$(BIN)/python -m pytest $(FAST) $(if $(TEST_SHARD),--shard $(TEST_SHARD)) $(PYTEST_ARGS)

test-durations: $(call needs,runtime test workflow-lint) ## Run the fast tier and record each test file's duration in tests/durations.json (how TEST_SHARD splits it)
	$(BIN)/python -m pytest $(FAST) --record-durations $(PYTEST_ARGS)

test-system: $(call needs,runtime test workflow-lint) ## Run the system tier: act workflows, image build, live rollouts, PostgreSQL and MLflow servers
	$(BIN)/python -m pytest -m system $(PYTEST_ARGS)

# Privileged, and the only place anything is installed for the tests: as root it runs directly,
# otherwise through sudo (GitHub's runner user), keeping the variables that choose what to set up.
SYSTEM_DEPS_ENV := MLSHIP_CONTAINER,MLSHIP_POSTGRES_URL,CONTAINERS_CONF,GITHUB_ACTIONS
system-deps: ## Set up the system tier as root/sudo: podman + stand-in base image where docker cannot pull, PostgreSQL
	$(if $(filter 0,$(shell id -u)),,sudo --preserve-env=$(SYSTEM_DEPS_ENV)) python3 tools/system_deps.py ensure

init: $(call needs,runtime) ## Set up params.yaml, schema.yaml, plots and data.dvc for DATA=file.csv|.parquet TARGET=column [TASK=...] [ID=column] [FORCE=1]
	$(BIN)/mlship init "$${DATA:?make init DATA=file TARGET=column}" --target "$${TARGET:?make init DATA=file TARGET=column}" $${TASK:+--task "$$TASK"} $${ID:+--id "$$ID"} $${FORCE:+--force}

data: $(call needs,runtime) ## Put in place the bytes data.dvc pins (DVC cache, DVC remote, or the verified example), else fail
	$(BIN)/mlship data

validate: $(call needs,runtime) ## Validate the data data.dvc pins against its contract
	$(BIN)/mlship data
	$(BIN)/dvc repro validate

repro: $(call needs,runtime) ## Run the DVC pipeline on the pinned data (only stages whose inputs changed)
	$(BIN)/mlship data
	$(BIN)/dvc repro

smoke: $(call needs,runtime) ## PR train job: the pipeline on the data this branch pins
	$(BIN)/mlship smoke

baseline: $(call needs,runtime) ## Rebuild main's outputs into reports/baseline (ref: BASE_REF, else origin/main, else main)
	$(BIN)/mlship baseline

gate: $(call needs,runtime) ## Compare this branch's model with main's on the same held-out rows; fail on regression
	$(BIN)/mlship gate

report: $(call needs,runtime) ## Write reports/pr/report.md (verdict, metrics, params, data diff, plots) for the PR comment
	$(BIN)/mlship report

pipeline: repro ## Run the whole pipeline on the example and print the metrics
	$(BIN)/dvc metrics show

# The PR workflow's jobs in order; on main itself the gate compares main with main. .ci/run runs
# this as an unprivileged user, then `system-deps test-system` as root.
ci: format-check lint typecheck security workflow-lint k8s-validate test-fast pipeline validate smoke baseline gate report ## Everything the pull-request workflow checks (fast test tier)

bench-pipeline: $(call needs,runtime) ## Time and measure memory of the pipeline on 20k, 200k and 2M rows
	$(BIN)/python benchmarks/bench_pipeline.py

bench-ci: $(call needs,runtime) ## Simulate a ci.yml PR run: each job alone on 2 cores (fresh clone, venv), timed; wall time to check from the needs graph
	$(BIN)/python benchmarks/bench_ci.py

serve: $(call needs,runtime) ## Serve the model over HTTP on 127.0.0.1:8000 (MLSHIP_* settings, docs/serving.md)
	$(BIN)/mlship serve

bench-serve: $(call needs,runtime) ## Throughput and p50/p99 of mlship serve vs mlflow models serve vs a bare app
	@test -s $(or $(MODEL_DIR),artifacts/model)/model.skops || { echo "bench-serve: no model; run make repro first" >&2; exit 1; }
	$(BIN)/python benchmarks/bench_serve.py --model-dir $(or $(MODEL_DIR),artifacts/model)

# Drift and the scheduled retrain loop (retrain.yml); docs/monitoring.md.
.PHONY: drift bench-drift ingest retrain retrain-pr monitor feedback-ingest

drift: $(call needs,runtime) ## Drift of the newest batch vs the champion's training data: reports/drift/drift.{json,md,html}
	$(BIN)/mlship drift

bench-drift: $(call needs,runtime) ## Drift check on 100k and 1M rows x 20 columns vs Evidently: time, peak memory, agreement
	$(BIN)/python benchmarks/bench_drift.py

ingest: $(call needs,runtime) ## Write the month's batch if missing (RETRAIN_MONTH, default this month; RETRAIN_SCENARIO for the example)
	$(BIN)/mlship ingest --missing-only $${RETRAIN_MONTH:+--month "$$RETRAIN_MONTH"} --scenario "$${RETRAIN_SCENARIO:-stable}"

retrain: $(call needs,runtime) ## Champion's outputs, then validate the batch, decide, retrain, gate, register (RETRAIN_FORCE=true)
	$(BIN)/mlship data
	if [[ -n "$$($(BIN)/dvc remote list)" ]]; then $(BIN)/dvc pull; fi
	$(BIN)/dvc repro
	$(BIN)/mlship retrain

retrain-pr: $(call needs,runtime) ## Open/update the retrain PR (branch retrain/<month>) or the issue of a rejected batch (CI only)
	$(BIN)/mlship retrain --publish

monitor: $(call needs,runtime) ## Drift of recorded live traffic vs the training data; gauges; trigger retrain with --trigger
	$(BIN)/mlship monitor

feedback-ingest: $(call needs,runtime) ## Append the true labels of FILE=labels.csv|.parquet (id, label[, timestamp]) to the feedback store [MAX_DELAY_HOURS=h]
	$(BIN)/mlship feedback ingest "$${FILE:?make feedback-ingest FILE=labels.csv}" $${MAX_DELAY_HOURS:+--max-delay-hours "$$MAX_DELAY_HOURS"}

# pr-report.yml reads the PR number and report from the artifact: untrusted, so the number must
# be digits and tools/report_links.py (runner's python3, stdlib only) lets the report link only
# PNGs inside it and plain http(s) URLs (cml --publish uploads every local file it links).
PR_REPORT_DIR ?= reports/pr
REPORT_LINKS := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))tools/report_links.py

pr-number: ## Record PR_NUMBER beside the PR report for the pr-report workflow (CI only)
	@[[ "$${PR_NUMBER:-}" =~ ^[0-9]+$$ ]] || { echo "pr-number: PR_NUMBER must be digits, got '$${PR_NUMBER:-}'" >&2; exit 1; }
	mkdir -p $(PR_REPORT_DIR)
	printf '%s\n' "$$PR_NUMBER" > $(PR_REPORT_DIR)/pr-number

pr-comment: ## Create or update the one mlship comment (CML) on the PR named in the report (CI only)
	@number="$$(head -c 20 $(PR_REPORT_DIR)/pr-number 2>/dev/null | tr -d '\n')"; \
	[[ "$$number" =~ ^[0-9]+$$ ]] || { echo "pr-comment: no valid PR number in $(PR_REPORT_DIR)/pr-number" >&2; exit 1; }; \
	test -s $(PR_REPORT_DIR)/report.md || { echo "pr-comment: $(PR_REPORT_DIR)/report.md is missing" >&2; exit 1; }; \
	python3 $(REPORT_LINKS) $(PR_REPORT_DIR)/report.md; \
	cd $(PR_REPORT_DIR) && cml comment update --watermark-title=mlship --target="pr/$$number" --publish report.md

# A fork's artifact could name another PR: GitHub's API must say that PR's head is the commit the
# CI run built (workflow_run.head_sha, read from the event file GitHub writes, not the artifact).
.PHONY: pr-verify
pr-verify: ## Refuse unless the PR named in the report has this CI run's commit as its head (CI only)
	@pr="$$(head -c 20 $(PR_REPORT_DIR)/pr-number 2>/dev/null | tr -d '\n')"; \
	[[ "$$pr" =~ ^[0-9]+$$ ]] || { echo "pr-verify: no valid PR number in $(PR_REPORT_DIR)/pr-number" >&2; exit 1; }; \
	built="$$(python3 -c 'import json, os; print(json.load(open(os.environ["GITHUB_EVENT_PATH"], encoding="utf-8"))["workflow_run"]["head_sha"])' 2>/dev/null || true)"; \
	head="$$(curl -fsS --max-time 30 -H "Authorization: Bearer $${REPO_TOKEN:-}" -H "Accept: application/vnd.github+json" \
		"$${GITHUB_API_URL:-}/repos/$${GITHUB_REPOSITORY:-}/pulls/$$pr" | python3 -c 'import json, sys; print(json.load(sys.stdin)["head"]["sha"])' 2>/dev/null || true)"; \
	[[ "$$built" =~ ^[0-9a-f]{40}$$ && "$$head" == "$$built" ]] || \
		{ echo "pr-verify: PR $$pr has head '$$head', not '$$built' that this CI run built: refusing" >&2; exit 1; }

all-green: ## Fail unless every job in NEEDS_JSON (a workflow's `needs` context) succeeded (CI only)
	@python3 -c 'import json, os, sys; r = {k: v["result"] for k, v in json.loads(os.environ["NEEDS_JSON"]).items()}; [print(f"{k}: {v}") for k, v in sorted(r.items())]; bad = sorted(k for k, v in r.items() if v != "success"); sys.exit("not all green: " + ", ".join(bad) if bad else 0)'

# Release: the serving image, canary rollout and registry steps (release.yml, rollback.yml,
# train.yml). CONTAINER is MLSHIP_CONTAINER when set (as for the system tests), else docker where
# its daemon answers (GitHub runners), else podman.
CONTAINER ?= $(or $(MLSHIP_CONTAINER),$(shell docker info >/dev/null 2>&1 && echo docker || command -v podman || echo docker))
IMAGE ?= mlship-serve:local
MODEL_DIR ?= artifacts/model
IMAGE_REPO ?= ghcr.io/$(shell printf '%s' "$${GITHUB_REPOSITORY:-mlship/mlship}" | tr '[:upper:]' '[:lower:]')
VERSION ?= $(or $(GITHUB_REF_NAME),dev)
SHA ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
PUSH ?= $(CONTAINER) push
LOGIN ?= $(CONTAINER) login

.PHONY: image image-smoke bench-image push-image rollout rollout-abort rollback train-register

image: ## Build the serving image IMAGE with the model in MODEL_DIR baked in (SERVING_EXTRAS=databricks for a Databricks registry)
	@test -s $(MODEL_DIR)/model.skops || { echo "image: no model in $(MODEL_DIR); run make repro first" >&2; exit 1; }
	$(CONTAINER) build $(if $(findstring podman,$(CONTAINER)),--format=docker) --build-arg MODEL_DIR=$(MODEL_DIR) \
		$(if $(SERVING_EXTRAS),--build-arg SERVING_EXTRAS=$(SERVING_EXTRAS)) -t $(IMAGE) .

image-smoke: $(call needs,runtime) ## Run IMAGE on loopback: /ready, /predict, 422 on bad input, non-root user
	$(BIN)/python tools/image_smoke.py --container $(CONTAINER) --image $(IMAGE) --model-dir $(MODEL_DIR)

bench-image: $(call needs,runtime) ## Print IMAGE's size (layers, largest packages) and 3 start-ups to /ready, read-only root
	$(BIN)/python benchmarks/bench_image.py --container $(CONTAINER) --image $(IMAGE)

push-image: ## Push IMAGE as IMAGE_REPO:VERSION and IMAGE_REPO:sha-SHA (logs in when REGISTRY_TOKEN is set)
	@[[ "$(VERSION)" =~ ^[A-Za-z0-9_.-]+$$ ]] || { echo "push-image: bad VERSION '$(VERSION)'" >&2; exit 1; }
	@if [[ -n "$${REGISTRY_TOKEN:-}" ]]; then printf '%s' "$$REGISTRY_TOKEN" | $(LOGIN) "$(firstword $(subst /, ,$(IMAGE_REPO)))" --username "$${REGISTRY_USER:-$${GITHUB_ACTOR:-mlship}}" --password-stdin; fi
	$(CONTAINER) tag $(IMAGE) $(IMAGE_REPO):$(VERSION)
	$(CONTAINER) tag $(IMAGE) $(IMAGE_REPO):sha-$(SHA)
	$(PUSH) $(IMAGE_REPO):$(VERSION)
	$(PUSH) $(IMAGE_REPO):sha-$(SHA)

rollout: $(call needs,runtime) ## Canary the challenger on MLSHIP_DEPLOY_URL (RELEASE_COMMIT + MODEL_MD5: that commit's model), then promote or roll back
	$(BIN)/mlship rollout start $${RELEASE_COMMIT:+--commit "$$RELEASE_COMMIT"} $${MODEL_MD5:+--model-md5 "$$MODEL_MD5"}

rollout-abort: $(call needs,runtime) ## Stop a rollout: all traffic to the champion, challenger alias cleared
	$(BIN)/mlship rollout abort

rollback: $(call needs,runtime) ## Champion back to the previous version in the registry and on the service
	$(BIN)/mlship rollout revert

train-register: $(call needs,runtime) ## Register the latest training run as the challenger (after make repro)
	$(BIN)/mlship registry register

# Kubernetes (deploy/, docs/deploy.md): kustomize overlays, rendered with kubectl and validated
# offline against the API schemas of K8S_VERSION. k8s-render builds a throwaway kustomization on
# top of the overlay (by relative path: kustomize refuses absolute ones) that sets IMAGE_REF and
# adds K8S_COMPONENTS (in the overlay's namespace), so no committed file is edited.
.PHONY: k8s-render k8s-validate
OVERLAY ?= staging
K8S_OVERLAYS := $(sort $(notdir $(wildcard deploy/overlays/*)))
K8S_VERSION ?= 1.37.0
K8S_OUT ?= build/k8s/$(OVERLAY).yaml
K8S_COMPONENTS ?=
IMAGE_REF ?=
# An image pinned by digest (repo@sha256:<64 hex>) or by a tag other than latest.
K8S_IMAGE_RE := ^[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64}|:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$$
export OVERLAY IMAGE_REF K8S_COMPONENTS
K8S_RENDER = $(MAKE) --no-print-directory -s -f $(abspath $(firstword $(MAKEFILE_LIST))) k8s-render

k8s-render: $(call needs,workflow-lint) ## Render deploy/overlays/OVERLAY to K8S_OUT (IMAGE_REF=repo@sha256:... sets the image; K8S_COMPONENTS=servicemonitor)
	@[[ " $(K8S_OVERLAYS) " == *" $$OVERLAY "* ]] || { echo "k8s-render: OVERLAY '$$OVERLAY' is not one of: $(K8S_OVERLAYS)" >&2; exit 1; }
	@re='$(K8S_IMAGE_RE)'; [[ -z "$$IMAGE_REF" || ( "$$IMAGE_REF" =~ $$re && "$$IMAGE_REF" != *:latest ) ]] || \
		{ echo "k8s-render: IMAGE_REF '$$IMAGE_REF' must be <repo>@sha256:<digest> or <repo>:<tag> (not latest)" >&2; exit 1; }
	@for component in $$K8S_COMPONENTS; do [[ -f "deploy/components/$$component/kustomization.yaml" ]] || \
		{ echo "k8s-render: no component '$$component' in deploy/components (have: $(notdir $(wildcard deploy/components/*)))" >&2; exit 1; }; done
	@tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	namespace="$$(sed -n 's/^namespace: *//p' "deploy/overlays/$$OVERLAY/kustomization.yaml")"; \
	{ printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n'; \
	  [[ -z "$$namespace" ]] || printf 'namespace: %s\n' "$$namespace"; \
	  printf 'resources:\n  - %s\n' "$$(realpath --relative-to="$$tmp" "deploy/overlays/$$OVERLAY")"; \
	  [[ -z "$$K8S_COMPONENTS" ]] || printf 'components:\n'; \
	  for component in $$K8S_COMPONENTS; do printf '  - %s\n' "$$(realpath --relative-to="$$tmp" "deploy/components/$$component")"; done; \
	  [[ -z "$$IMAGE_REF" ]] || printf '%s\n' 'patches:' '  - target: {group: apps, kind: Deployment, name: mlship}' '    patch: |-' \
	    '      apiVersion: apps/v1' '      kind: Deployment' '      metadata: {name: mlship}' \
	    "      spec: {template: {spec: {containers: [{name: serve, image: \"$$IMAGE_REF\"}]}}}"; \
	} > "$$tmp/kustomization.yaml"; \
	mkdir -p "$(dir $(K8S_OUT))"; partial="$(K8S_OUT).partial"; \
	$(BIN)/kubectl kustomize "$$tmp" > "$$partial" || \
		{ rm -f "$$partial"; echo "k8s-render: kubectl kustomize failed for deploy/overlays/$$OVERLAY" >&2; exit 1; }; \
	mv "$$partial" "$(K8S_OUT)"; \
	echo "k8s-render: deploy/overlays/$$OVERLAY$${K8S_COMPONENTS:+ + $$K8S_COMPONENTS}$${IMAGE_REF:+ with $$IMAGE_REF} -> $(K8S_OUT)"

# A kind kubernetes-validate has no schema for (a typo'd apiVersion) is only a WARN to it: fatal
# here. The ServiceMonitor (a CRD) has no schema in it: its component is rendered here and its
# fields are checked by tests/deploy.
k8s-validate: $(call needs,workflow-lint) ## Render every overlay and validate it offline against the Kubernetes K8S_VERSION API schemas (strict)
	@tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	for overlay in $(K8S_OVERLAYS); do \
	  $(K8S_RENDER) OVERLAY="$$overlay" IMAGE_REF= K8S_COMPONENTS=servicemonitor K8S_OUT="$$tmp/$$overlay-sm.yaml" >/dev/null; \
	  $(K8S_RENDER) OVERLAY="$$overlay" IMAGE_REF= K8S_COMPONENTS= K8S_OUT="$$tmp/$$overlay.yaml" >/dev/null; \
	  out="$$($(BIN)/kubernetes-validate --strict --quiet -k $(K8S_VERSION) "$$tmp/$$overlay.yaml" 2>&1)" && ! grep -q '^WARN' <<<"$$out" || \
	    { printf '%s\n' "$$out" >&2; echo "k8s-validate: deploy/overlays/$$overlay does not validate against Kubernetes $(K8S_VERSION)" >&2; exit 1; }; \
	  echo "k8s-validate: deploy/overlays/$$overlay: $$(grep -c '^kind:' "$$tmp/$$overlay.yaml") objects valid for Kubernetes $(K8S_VERSION)"; \
	done

# The release's deploy steps (release.yml, docs/rollout.md). k8s-deploy applies exactly what
# k8s-render wrote (the validated bytes) and waits for the rollout; its credentials are a
# kubeconfig in KUBECONFIG_DATA (an environment secret), else the KUBECONFIG already set (an OIDC
# login step). KUBECTL is swapped for a recording stand-in by the release workflow test.
.PHONY: k8s-deploy release-outputs preprod-readiness preprod-parity preprod-load preprod-fuzz
KUBECTL ?= $(BIN)/kubectl
K8S_ROLLOUT_TIMEOUT ?= 5m
# The load test's size and budgets (`mlship preprod load --help`), e.g. --requests 1000 --p99-ms 250.
PREPROD_LOAD ?=
k8s-deploy: $(call needs,workflow-lint) ## Deploy IMAGE_REF with deploy/overlays/OVERLAY (kubectl apply, rollout status); KUBECONFIG_DATA or KUBECONFIG
	@[[ -n "$$IMAGE_REF" ]] || { echo "k8s-deploy: IMAGE_REF is not set: a release deploys its own image by reference" >&2; exit 1; }
	@[[ -n "$${KUBECONFIG_DATA:-}$${KUBECONFIG:-}" ]] || { echo "k8s-deploy: no cluster credentials: set the KUBECONFIG_DATA secret of the '$$OVERLAY' environment (docs/rollout.md)" >&2; exit 1; }
	$(K8S_RENDER) K8S_OUT=build/k8s/$(OVERLAY).yaml
	@kubeconfig="$$(mktemp)"; trap 'rm -f "$$kubeconfig"' EXIT; \
	if [[ -n "$${KUBECONFIG_DATA:-}" ]]; then printf '%s\n' "$$KUBECONFIG_DATA" > "$$kubeconfig"; export KUBECONFIG="$$kubeconfig"; fi; \
	namespace="$$(sed -n 's/^namespace: *//p' "deploy/overlays/$$OVERLAY/kustomization.yaml")"; \
	$(KUBECTL) apply -f "build/k8s/$(OVERLAY).yaml"; \
	$(KUBECTL) --namespace "$$namespace" rollout status deployment/mlship --timeout=$(K8S_ROLLOUT_TIMEOUT) || \
		{ echo "k8s-deploy: deployment/mlship in $$namespace did not become ready within $(K8S_ROLLOUT_TIMEOUT)" >&2; exit 1; }

release-outputs: ## Write this release's image_ref and model_md5 to GITHUB_OUTPUT (CI only; after make image)
	@[[ -n "$${GITHUB_OUTPUT:-}" ]] || { echo "release-outputs: GITHUB_OUTPUT is not set (CI only)" >&2; exit 1; }
	@test -s $(MODEL_DIR)/model.skops || { echo "release-outputs: no model in $(MODEL_DIR)" >&2; exit 1; }
	@md5="$$(md5sum $(MODEL_DIR)/model.skops | cut -d' ' -f1)"; ref="$(IMAGE_REPO):sha-$(SHA)"; \
	printf 'image_ref=%s\nmodel_md5=%s\n' "$$ref" "$$md5" >> "$$GITHUB_OUTPUT"; \
	echo "release-outputs: image_ref=$$ref model_md5=$$md5"

preprod-readiness: $(call needs,runtime) ## Pre-production: the staging service (MLSHIP_STAGING_URL) answers /ready
	$(BIN)/mlship preprod readiness

preprod-parity: $(call needs,runtime) ## Pre-production: staging's predictions on the held-out rows equal the pipeline's
	$(BIN)/mlship preprod parity

preprod-load: $(call needs,runtime) ## Pre-production: a bounded load test on staging within its error and p99 budget
	$(BIN)/mlship preprod load $(PREPROD_LOAD)

preprod-fuzz: $(call needs,runtime test) ## Pre-production: schemathesis on staging's OpenAPI finds no server error
	$(BIN)/mlship preprod fuzz

clean: ## Remove pipeline outputs (not the data, not .venv)
	rm -rf artifacts reports plots metrics.json
