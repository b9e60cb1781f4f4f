# qrauth — every target sets itself up on a fresh machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test bench lint format system-deps pdf-deps clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -U pip
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# Debian's Chromium (for the end-to-end tests; never a downloaded browser), CJK fonts (Noto for
# the pages; WenQuanYi Zen Hei, TrueType outlines, embedded in the portal's PDFs) and poppler
# (pdftoppm/pdftotext: the tests read the PDFs back).
system-deps:
	@command -v chromium >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 \
	  && test -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc || { \
	  echo "installing Debian's chromium, fonts and poppler-utils for the tests…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	    fonts-noto-cjk fonts-wqy-zenhei poppler-utils >/dev/null; }

# The TrueType CJK font the portal embeds in its PDFs (portal/documents/fonts.py).
pdf-deps:
	@test -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc || { \
	  echo "installing Debian's fonts-wqy-zenhei for the portal's PDFs…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null; }

demo: $(STAMP) pdf-deps
	$(PY) -m tools.demo

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
