# billrun — the two commands are `make run` and `make test`; the rest are helpers.
PYTHON ?= python3
# The console tests drive Debian's Chromium (/usr/bin/chromium): never a browser download.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: run test test-postgres test-embedded test-rabbitmq test-reliability install console lint schema migrations vendor-graphiql screenshot screenshots invoice-picture bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)  ## create the virtual environment and install billrun with its test tools

# The web console (console/, docs/CONSOLE.md): `npm ci` from the committed lock file, then codegen from
# schema.graphql, type check and Vite build into billrun/static/console, which billrun serves at /app. The built
# index.html is the stamp: it is rebuilt only when a source, the lock file or the schema changed.
CONSOLE_OUT := billrun/static/console/index.html
CONSOLE_SRC := $(shell find console/src -type f -not -path 'console/src/gql/*' 2>/dev/null) console/index.html \
               console/codegen.ts console/vite.config.ts console/tsconfig.json console/package.json schema.graphql

console/node_modules/.package-lock.json: console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error

$(CONSOLE_OUT): $(CONSOLE_SRC) console/node_modules/.package-lock.json
	cd console && npm run --silent build

console: $(CONSOLE_OUT)  ## build the web console served at /app

run: install console  ## the embedded default: SQLite, in-process workers, demo data, API + GraphiQL on :8000
	$(BIN)/billrun migrate
	$(BIN)/billrun demo
	$(BIN)/billrun serve

test: install console test-postgres test-embedded test-rabbitmq  ## the whole suite on PostgreSQL + Redis + Dramatiq, then on SQLite, then the job tests on RabbitMQ

test-postgres: install console
	$(BIN)/pytest -q

test-embedded: install console
	BILLRUN_TEST_MODE=embedded $(BIN)/pytest -q tests/embedded

# The jobs' tests again with RabbitMQ as Dramatiq's broker (a virtual host per run; Redis stays for the rest):
# processing, posting, retries with backoff (delayed messages), a killed worker's messages delivered again.
RABBITMQ_TESTS := tests/test_broker_choice.py tests/test_processing.py tests/test_posting.py tests/test_workers.py \
                  tests/test_processing_resilience.py

test-rabbitmq: install
	BILLRUN_TEST_BROKER=rabbitmq $(BIN)/pytest -q $(RABBITMQ_TESTS)

# The reliability suite (docs/RELIABILITY.md): faults and load injected into the real stack, figures written to
# tests/reliability/results.json. Bounded in time; .ci/run calls it after `make test`.
test-reliability: install console
	BILLRUN_TEST_SUITE=reliability $(BIN)/pytest -q tests/reliability

TYPED := billrun schema resolvers domain models workers

lint: install  ## ruff, then mypy over every package ([tool.mypy]); a `# type: ignore[code]` must say why
	$(BIN)/ruff check .
	$(BIN)/mypy
	@if grep -rnE --include='*.py' --exclude-dir=migrations '# type: ignore\[[^]]*\] *$$' $(TYPED); then \
	  echo 'Give each ignore its reason: `# type: ignore[code]  # why`'; exit 1; fi

schema: install  ## re-export schema.graphql after changing the GraphQL schema
	$(BIN)/billrun export-schema schema.graphql

migrations: install  ## write a migration for model changes (SQLite scratch file; the same file serves PostgreSQL)
	DATABASE_URL=sqlite://$(CURDIR)/var/makemigrations.sqlite3 $(BIN)/tortoise -c billrun.db.TORTOISE_ORM makemigrations

vendor-graphiql:  ## re-vendor GraphiQL's assets from the npm registry after upgrading strawberry
	PYTHON=$(BIN)/python scripts/vendor_graphiql.sh

screenshots: install console  ## every console screen in headless Chromium, from its browser tests -> docs/console-*.png
	BILLRUN_CONSOLE_SCREENSHOTS=$(CURDIR)/docs $(BIN)/pytest -q tests/test_console.py

invoice-picture: install  ## page 1 of a demo-like invoice PDF, rasterized with pypdfium2 -> docs/invoice.png
	$(BIN)/python scripts/invoice_picture.py docs/invoice.png

screenshot: install  ## GraphiQL in headless Chromium with outside networking blocked -> docs/graphiql.png
	scripts/graphiql_screenshot.sh

BENCH_CONTRACTS ?= 100000
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/billrun_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/14

bench: install  ## processing (1 and 2 workers vs COPY), a mass update, posting, the billing day of BENCH_CONTRACTS, live events, credit notes, the grid served -> bench/results/
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) BILLRUN_LOG_LEVEL=WARNING \
	  $(BIN)/billrun bench process --contracts $(BENCH_CONTRACTS) --workers 2 --compare-with 20000 \
	  --output bench/results/process.json
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) BILLRUN_LOG_LEVEL=WARNING \
	  $(BIN)/billrun bench dispositions --billings $(BENCH_CONTRACTS) --output bench/results/dispositions.json
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) BILLRUN_LOG_LEVEL=WARNING \
	  $(BIN)/billrun bench posting --billings $(BENCH_CONTRACTS) --output bench/results/posting.json
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) BILLRUN_LOG_LEVEL=WARNING \
	  $(BIN)/billrun bench billing-day --contracts $(BENCH_CONTRACTS) --workers 2 --output bench/results/billing_day.json
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) BILLRUN_LOG_LEVEL=WARNING \
	  $(BIN)/billrun bench live --output bench/results/live.json
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) BILLRUN_LOG_LEVEL=WARNING \
	  $(BIN)/billrun bench credit-notes --output bench/results/credit_notes.json
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) BILLRUN_LOG_LEVEL=WARNING \
	  $(BIN)/billrun bench graph --output bench/results/graph.json

clean:
	rm -rf var/ .pytest_cache .ruff_cache billrun/static/console
