PYTHON ?= python3

.PHONY: dist test

# The release archive (dist/) and the krew and Flux CLI manifests that describe it.
dist:
	$(PYTHON) packaging/dist.py

test:
	$(PYTHON) -m pytest
