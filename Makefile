# qrauth — every target sets itself up on a fresh machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo cluster test test-unit bench lint typecheck format system-deps pdf-deps clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -U pip
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test,dev,bench]'
	touch $(STAMP)

# axe-core for the accessibility tests, from npm at the version package-lock.json pins (Debian's
# nodejs and npm if this machine has none).
AXE := node_modules/axe-core/axe.min.js
$(AXE): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --no-audit --no-fund --silent
	touch $(AXE)

# Debian's Chromium (for the end-to-end tests; never a downloaded browser), CJK fonts (Noto for
# the pages; WenQuanYi Zen Hei, TrueType outlines, embedded in the portal's PDFs), poppler
# (pdftoppm/pdftotext: the tests read the PDFs back) and nginx (tests/cluster and `make cluster`
# run it unprivileged on 127.0.0.1).
system-deps:
	@command -v chromium >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 \
	  && test -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc || { \
	  echo "installing Debian's chromium, fonts and poppler-utils for the tests…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	    fonts-noto-cjk fonts-wqy-zenhei poppler-utils >/dev/null; }
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
	  echo "installing Debian's nginx for the cluster tests…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	  systemctl disable --now nginx >/dev/null 2>&1 || service nginx stop >/dev/null 2>&1 || true; }

# The TrueType CJK font the portal embeds in its PDFs (portal/documents/fonts.py).
pdf-deps:
	@test -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc || { \
	  echo "installing Debian's fonts-wqy-zenhei for the portal's PDFs…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null; }

demo: $(STAMP) pdf-deps
	$(PY) -m tools.demo

# nginx in front of three authsvc and two portal processes on the local Redis (docs: deploy/).
cluster: $(STAMP) system-deps
	$(PY) -m tools.cluster

test: $(STAMP) system-deps $(AXE)
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# The pure tests: no Redis, PostgreSQL or browser (Redis is pointed at a closed port, so a test
# that needs it fails loudly instead of passing by accident). Seconds, not minutes.
UNIT_TESTS := tests/unit tests/portal/test_rules.py tests/mobile_sim/test_source.py
test-unit: $(STAMP)
	QRAUTH_TEST_REDIS_URL=redis://127.0.0.1:1/0 $(PY) -m pytest -q -p no:cacheprovider \
	  -m "not redis and not pg and not e2e" $(UNIT_TESTS) $(PYTEST_ARGS)

bench: $(STAMP)
	@$(PY) -m bench

lint: $(STAMP) typecheck
	$(VENV)/bin/ruff check authsvc portal mobile_sim tests bench tools
	$(VENV)/bin/ruff format --check authsvc portal mobile_sim tests bench tools

# mypy --strict on the packages listed in pyproject.toml ([tool.mypy] files).
typecheck: $(STAMP)
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format authsvc portal mobile_sim tests bench tools

clean:
	rm -rf $(VENV) var test-artifacts
