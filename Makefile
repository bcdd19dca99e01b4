PYTHON ?= $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV)/bin/python,$(CURDIR)/.venv/bin/python)

.PHONY: install test demo

install:
	bash tools/install.sh

test: install
	$(PYTHON) -m pytest -q tests

demo: install
	bash tools/demo.sh
