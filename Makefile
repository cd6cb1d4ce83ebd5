# The two commands of the README: `make demo` and `make test`.
# Each creates the virtual environment in .venv and installs what is missing.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Installed first, so that installing charmony finds torch already there. Our machines keep
# torch 2.13.0's CPU build on disk; elsewhere pip fetches it from PyPI (the CUDA build on Linux).
TORCH ?= torch==2.13.0
DEMO_MINUTES ?= 4
DEMO_STEPS ?= 1000

.PHONY: demo test install bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: install
	$(BIN)/charmony prepare text --run demo
	$(BIN)/charmony train demo --restart --max-steps $(DEMO_STEPS) --max-minutes $(DEMO_MINUTES)
	$(BIN)/charmony sample demo --num-samples 4 --max-length 400 --temperature 0.8 --seed 1 --out demo-samples
	@echo "samples: demo-samples/sample_000.txt ... (settings in demo-samples/samples.json); run: runs/demo"

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/bench_train.py

clean:
	rm -rf $(VENV) runs demo-samples
