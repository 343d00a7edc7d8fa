# Two commands: `make book` builds the website, `make test` runs every check.
# Each creates .venv from nothing and installs the pinned dependencies.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# nbval's per-cell limit, in step with execute.timeout in _config.yml: at least 4 times the
# slowest cell (120 s at most on a 2-core CPU)
CELL_TIMEOUT := 600
# progress bars are for a reader in Jupyter; on the built site and under nbval they would print
# one line per update
QUIET := TQDM_DISABLE=1

.PHONY: book test lint unit notebooks site browser claims mutation clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

book: $(STAMP)
	$(QUIET) $(BIN)/jupyter-book build . --builder html -W -n --keep-going
	@echo "Book: $(CURDIR)/_build/html/index.html"

test: lint unit notebooks site browser

lint: $(STAMP)
	$(BIN)/ruff check .

unit: $(STAMP)
	$(BIN)/python -m pytest tests --ignore=tests/browser --ignore=tests/site

notebooks: $(STAMP)
	$(QUIET) $(BIN)/python -m pytest --nbval-lax --nbval-cell-timeout=$(CELL_TIMEOUT) -p no:cacheprovider notebooks/

# the executed site as readers get it: no placeholder, unfilled glue, warning, build path or
# progress-bar flood in what the pages show
site: book
	$(BIN)/python -m pytest tests/site -p no:cacheprovider

browser: book
	$(BIN)/python -m pytest tests/browser -p no:cacheprovider

# every notebook's claims over seeds 0-4 and 1 and 2 threads (long: about ten book builds)
claims: $(STAMP)
	$(QUIET) $(BIN)/python benchmarks/claims.py

# mutants of the core modules ([tool.mutmut] in pyproject.toml) and the tests that kill them (long:
# about an hour and a half on two cores); `$(BIN)/mutmut results` lists the survivors
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet mutmut==3.8.1
	L2L_COMPILE=0 $(BIN)/mutmut run --max-children 2

clean:
	rm -rf _build mutants
