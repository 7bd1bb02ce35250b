# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv when it is missing. torch is pinned to the CPU wheel on this machine's disk;
# on a GPU machine install the torch build you want first and the pin is already satisfied.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TORCH  ?= torch==2.13.0
OUT    ?= demo_out

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "$(TORCH)"
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev,gkmsvm,motifs]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/genomic-ulmfit demo --out $(OUT)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/tokenizer_speed.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache build *.egg-info src/*.egg-info
