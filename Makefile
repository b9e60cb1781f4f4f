# qrauth — every target sets itself up on a fresh machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo cluster test bench lint format system-deps clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -U pip
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# Debian's Chromium (for the end-to-end tests; never a downloaded browser) and CJK fonts;
# Debian's nginx (tests/cluster and `make cluster` run it unprivileged on 127.0.0.1).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
	  echo "installing Debian's nginx for the cluster tests…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	  systemctl disable --now nginx >/dev/null 2>&1 || service nginx stop >/dev/null 2>&1 || true; }

demo: $(STAMP)
	$(PY) -m tools.demo

# nginx in front of three authsvc and two portal processes on the local Redis (docs: deploy/).
cluster: $(STAMP) system-deps
	$(PY) -m tools.cluster

test: $(STAMP) system-deps
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(STAMP)
	@$(PY) -m bench

lint: $(STAMP)
	$(VENV)/bin/ruff check authsvc portal mobile_sim tests bench tools
	$(VENV)/bin/ruff format --check authsvc portal mobile_sim tests bench tools

format: $(STAMP)
	$(VENV)/bin/ruff format authsvc portal mobile_sim tests bench tools

clean:
	rm -rf $(VENV) var test-artifacts
