# Both README commands work on a machine that has only python3: the first use
# creates .venv and installs the package with its extras; later uses reuse it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: verify test test-slow docs-fast docs-check lint bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,plot,dask,export]'
	@touch $(STAMP)

verify: $(STAMP)
	$(VENV)/bin/twostep verify

# pytest exits 5 when it collects nothing: a suite that runs no test is broken (under
# pytest-xdist too). The default suite runs on one xdist worker per core, at most TEST_JOBS;
# --dist loadgroup keeps the tests marked xdist_group(name) on one worker.
TEST_JOBS ?= 4
test: $(STAMP)
	@$(PY) -m pytest -n auto --maxprocesses $(TEST_JOBS) --dist loadgroup; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; fi; exit $$rc

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

# The fast examples of the docs: every block of README.md and docs/*.md not marked slow, run as
# written, with the docs' links, commands and CLI reference (tests/test_docs.py under the default
# markers). `make test` runs them too; CI (.ci/run) runs them first, on their own.
docs-fast: $(STAMP)
	@$(PY) -m pytest -n auto --maxprocesses $(TEST_JOBS) tests/test_docs.py; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make docs-fast: pytest collected no tests"; fi; exit $$rc

# Every command and example of README.md and docs/*.md, the blocks marked slow included, run as
# written (tests/test_docs.py): the docs reproduce. A release runs it.
docs-check: $(STAMP)
	$(PY) -m pytest -m docs tests/test_docs.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
