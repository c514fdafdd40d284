# cnnlens — every target prepares what it needs and is safe to run again (no re-downloads).
#   make serve   venv + vendored runtime, then serve on http://127.0.0.1:$(PORT)/
#   make test    venv + vendored runtime + Debian's chromium, then ruff and pytest
#   make bench   the same prerequisites, then the benchmarks (bench/README.md); not in CI
#   make vendor  fetch, verify and lay out build/vendor/ from build/manifest.json
#   make site    build the deployable static site into dist/ (and dist/cnnlens-site.zip)
#   make prerender  the page's first overview as static files (assets/prerendered/)
#   make examples   each example folder's pack of decoded pixels (assets/images/*/examples.bin)
#   make lint    ruff and ESLint (npm ci from package-lock.json)
#   make model   train the TinyVGG model in .venv-train (torch, onnx)
#   make fuzz    fuzz the model loader with atheris for $(FUZZ_SECONDS) s (docs/FUZZING.md)
#   make clean   remove build/vendor, build/cache and .venv

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
VENV_STAMP := $(VENV)/.stamp
TRAIN_VENV := .venv-train
TRAIN_VENV_STAMP := $(TRAIN_VENV)/.stamp
# torch==2.13.0 onnx==1.23.2 numpy pillow, pinned in one place
TRAIN_REQS := build/requirements-train.txt
CHROMIUM := /usr/bin/chromium
FASHION_MNIST := /usr/share/datasets/fashion-mnist

.PHONY: serve test bench vendor lint model clean system-packages site fuzz prerender examples

# The stamp is newer than pyproject.toml once its dependencies are installed.
$(VENV_STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -e '.[dev]'
	touch $@

# Always run: vendor.py verifies the tree against the manifest in a fraction of a second and
# fetches only what is missing or wrong, which file dates alone cannot tell.
vendor:
	$(PYTHON) build/vendor.py
	$(PYTHON) build/pyscript_config.py

# Debian's chromium drives the browser tests; the Fashion-MNIST test set lets a test
# re-measure the bundled model's accuracy (it skips without it).
system-packages:
	@if [ -x $(CHROMIUM) ] && [ -d $(FASHION_MNIST) ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's chromium and dataset-fashion-mnist for the tests"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update && apt-get install -y chromium dataset-fashion-mnist; \
	elif [ ! -x $(CHROMIUM) ]; then \
		echo "The browser tests need Debian's chromium at $(CHROMIUM). Install it with:" >&2; \
		echo "    sudo apt-get update && sudo apt-get install -y chromium dataset-fashion-mnist" >&2; \
		echo "or run the other tests alone: $(VENV)/bin/pytest -m 'not e2e'" >&2; \
		exit 1; \
	fi

# Each example folder's pixels, decoded as the page decodes them, in one pack NumPy reads (the
# page shows examples without Pillow); with NumPy and Pillow, so the venv's Python when there is
# one. Rewrites nothing while the packs hold those pixels.
examples:
	$(if $(wildcard $(VENV)/bin/python),$(VENV)/bin/python,$(PYTHON)) build/example_packs.py

# The page's first overview as static files (assets/prerendered/), made by the worker's own
# code on its own runtime (Pyodide under Node.js); rewrites nothing while its inputs are unchanged.
prerender: vendor examples
	$(PYTHON) build/prerender.py

# Stdlib only; prints the first-visit bytes per file group (runtime, packages, app, model, images).
# dist/ also gets the views examples/blog-post.html embeds prerendered (build/prerender.py's
# EMBEDDED); PRERENDER='STATE ...' adds more (MODEL:IMAGE:RANGE, MODEL:IMAGE:LAYER:CHANNEL,
# playground:N:P:K:S), for the embeds a site shows.
PRERENDER ?=
site: vendor examples prerender
	$(PYTHON) build/site.py --compare $(addprefix --prerender ,$(PRERENDER))

# ESLint and its two packages, pinned with their hashes in package-lock.json.
NODE_STAMP := node_modules/.stamp
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

lint: $(VENV_STAMP) $(NODE_STAMP)
	$(VENV)/bin/ruff check py tests build bench
	npx --no-install eslint .

serve: $(VENV_STAMP) vendor examples prerender
	$(VENV)/bin/python build/serve.py --port $(PORT)

test: lint vendor system-packages
	$(VENV)/bin/pytest

# Minutes, and the figures depend on the machine: run by hand, never in CI. BENCH_ARGS
# passes options through, e.g. make bench BENCH_ARGS='--runs 9 --no-engine'.
bench: $(VENV_STAMP) vendor system-packages
	$(VENV)/bin/python -m bench.run $(BENCH_ARGS)

# atheris (libFuzzer for Python) is only for this target, so it is an extra of its own.
FUZZ_SECONDS ?= 300
FUZZ_VENV_STAMP := $(VENV)/.stamp-fuzz
$(FUZZ_VENV_STAMP): $(VENV_STAMP)
	$(VENV)/bin/pip install -e '.[dev,fuzz]'
	touch $@

# Any exception other than our documented errors stops it and leaves build/fuzz/crash-*.
fuzz: $(FUZZ_VENV_STAMP)
	mkdir -p build/fuzz/corpus
	$(VENV)/bin/python tests/fuzz_onnx.py -max_total_time=$(FUZZ_SECONDS) \
		-artifact_prefix=build/fuzz/ -print_final_stats=1 build/fuzz/corpus

# torch 2.13.0 is the CPU wheel; the training venv is kept apart from .venv (hundreds of MB).
$(TRAIN_VENV_STAMP): $(TRAIN_REQS)
	test -x $(TRAIN_VENV)/bin/python || $(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/pip install -r $(TRAIN_REQS)
	touch $@

model: $(TRAIN_VENV_STAMP)
	$(TRAIN_VENV)/bin/python build/train_tinyvgg.py

clean:
	rm -rf build/vendor build/cache $(VENV) node_modules
