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

.PHONY: demo test test-fast lint install bench bench-bach bench-gallery bench-gallery-size clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# The Bach path: the chorales' soprano lines as ABC, each moved to C major or C minor (written from music21's corpus
# on first use, about two minutes on two cores, then cached), a small model trained for a few minutes, tunes sampled as ABC and MIDI,
# and last the gallery of the tunes (scores and audio rendered into demo-gallery/), opened where a browser is.
demo: install
	$(BIN)/charmony prepare bach --run bach-demo --option voices=soprano --option transpose=tonic
	$(BIN)/charmony train bach-demo --restart --recipe demo --max-steps $(DEMO_STEPS) --max-minutes $(DEMO_MINUTES)
	$(BIN)/charmony sample bach-demo --num-samples 8 --max-length 1500 --temperature 0.8 --seed 1 --out demo-samples --render midi
	@echo "tunes: demo-samples/sample_001.abc ... sample_008.abc; MIDI: demo-samples/sample_NNN.mid for each tune that passed the abc check"
	@echo "verdicts and settings: demo-samples/samples.json; run: runs/bach-demo"
	$(BIN)/charmony gallery bach-demo --samples demo-samples --out demo-gallery --open

test: install
	$(BIN)/python -m pytest -q

# The suite without the tests marked slow (the chorale round trip, training in several processes).
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

# ruff, and mypy on the package (read through build/mypy/charmony, since the repository root is the package).
lint: install
	$(BIN)/ruff check .
	mkdir -p build/mypy && ln -sfn "$(CURDIR)" build/mypy/charmony
	MYPYPATH=build/mypy $(BIN)/mypy -p charmony

bench: install
	$(BIN)/python benchmarks/bench_train.py

bench-bach: install
	$(BIN)/python benchmarks/bench_bach.py

bench-gallery: install
	$(BIN)/python benchmarks/bench_gallery.py

bench-gallery-size: install
	$(BIN)/python benchmarks/bench_gallery_size.py

clean:
	rm -rf $(VENV) runs demo-samples demo-gallery
