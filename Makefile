# Launchkit — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
STATICCHECK := $(GO) tool staticcheck
BIN := bin

.PHONY: run dev test test-short cover build worker migrate lint bench e2e axe screenshot redteam fmt scaffold rename ldap clean help

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: ## build bin/web and start the app on http://localhost:8000 (SQLite, embedded Redis, outbox mail)
	@echo "building $(BIN)/web (the first build compiles several hundred packages and can take a few minutes; later ones take seconds)"
	@$(GO) build -o $(BIN)/web ./cmd/web
	$(BIN)/web

dev: ## like run, but rebuilt and restarted on every change to Go code, templates or migrations (air, .air.toml)
	@echo "starting air: it builds tmp/web (the first time, air and several hundred packages: a few minutes), then rebuilds on each change; Ctrl-C stops it"
	$(GO) tool air

# What a test run without a service skips, said before it starts.
define skip_notes
	@[ -n "$$TEST_DATABASE_URL" ] || echo "note: TEST_DATABASE_URL is not set: PostgreSQL tests will skip"
	@[ -n "$$TEST_MYSQL_URL" ] || echo "note: TEST_MYSQL_URL is not set: MySQL/MariaDB tests will skip"
	@[ -n "$$TEST_REDIS_URL" ] || echo "note: TEST_REDIS_URL is not set: real-Redis tests will skip (the embedded Redis still runs)"
	@command -v ldapmodify >/dev/null || echo "note: slapd and ldap-utils are not installed: the directory sign-in tests will skip (apt-get install slapd ldap-utils)"
endef

# The browser tests' accessibility checks run axe-core, a test-only tool
# fetched (once, into the user's cache) at the version e2e/axe.version
# pins. Offline, the fetch is skipped and so are those checks, said here;
# CI_REQUIRE_AXE=1 (.ci/run) makes a missing axe-core fail them.
define fetch_axe
	@$(GO) run ./tools/axe >/dev/null || echo "note: could not fetch axe-core (offline?): the accessibility checks in e2e/ will skip (make axe)"
endef

test: ## run the whole test suite (real services when TEST_* URLs are set); COVER=1 measures coverage too, as make cover
ifeq ($(COVER),1)
	@$(MAKE) --no-print-directory cover
else
	$(skip_notes)
	$(fetch_axe)
	$(GO) test -count=1 -timeout 15m ./...
	$(NODEV_TESTS)
endif

# The tests of what a production build (-tags nodev) leaves out: they
# only build with the tag.
NODEV_TESTS := $(GO) test -count=1 -tags nodev -run Nodev ./internal/web ./internal/redisconn

# make cover PKGS=./internal/config/... reruns only those packages' tests.
PKGS ?= ./...
COVERDIR := coverage

cover: ## make test measuring statement coverage, the built binaries' included: per package and total, HTML in coverage/index.html
	$(skip_notes)
	$(fetch_axe)
	@rm -rf $(COVERDIR) && mkdir -p $(COVERDIR)/data
	@status=0; $(GO) test -count=1 -timeout 20m -cover -coverpkg=./internal/...,./cmd/... $(PKGS) \
	  -args -test.gocoverdir=$(abspath $(COVERDIR))/data || status=$$?; \
	  $(GO) run ./tools/cover $(COVERDIR) && exit $$status
	$(NODEV_TESTS)

test-short: ## the fast inner loop: every package's quick tests (-short skips built binaries, browsers, long waits)
	$(GO) test -short -count=1 -timeout 5m ./...

# Production binaries are tagged nodev: the development tools (/dev, the
# embedded Redis of make run) are left out. make run builds without it.
PRODFLAGS := -tags nodev -trimpath -ldflags="-s -w"

build: ## static production binaries in bin/ (tagged nodev: no development tools): web, worker, manage
	CGO_ENABLED=0 $(GO) build $(PRODFLAGS) -o $(BIN)/web ./cmd/web
	CGO_ENABLED=0 $(GO) build $(PRODFLAGS) -o $(BIN)/worker ./cmd/worker
	CGO_ENABLED=0 $(GO) build $(PRODFLAGS) -o $(BIN)/manage ./cmd/manage

worker: ## run a standalone worker (needs REDIS_URL)
	$(GO) run ./cmd/worker

migrate: ## apply pending migrations to DATABASE_URL
	$(GO) run ./cmd/manage migrate up

lint: ## gofmt check, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags nodev ./...
	$(STATICCHECK) ./...

e2e: ## browser tests in headless Chromium (apt-get install chromium): pages, accessibility (axe-core), layout, keyboard; E2E_SCREENSHOTS=1 saves PNGs
	$(fetch_axe)
	$(GO) test -count=1 -timeout 20m -v ./e2e

axe: ## download the pinned axe-core the browser tests run (e2e/axe.version, sha256-checked) into the user's cache; prints its path
	$(GO) run ./tools/axe

screenshot: ## regenerate docs/screenshot.png, the README's picture: the signed-in admin home at 1280x800, light (needs Chromium)
	SCREENSHOT_OUT=$(abspath docs/screenshot.png) $(GO) test -count=1 -run '^TestReadmeScreenshot$$' -v ./e2e

redteam: ## replay the security review's attacks against the built web binary (also part of make test)
	$(GO) test -count=1 -run 'TestRedTeam' -v ./cmd

bench: ## load (and the signed-in page with tracing off and on), jobs, start-up, memory and size of the built binaries as ratios to baselines, the interface's weight and first render, and the cold first build; writes docs/benchmarks.md (-only: go run ./tools/bench -h)
	$(GO) run ./tools/bench

ldap: ## a development LDAP directory (slapd: apt-get install slapd ldap-utils) to try directory sign-in; docs/directory-sign-in.md
	$(GO) run ./tools/devldap

scaffold: ## generate a resource owned by signed-in users: make scaffold NAME=widget FIELDS="title:string done:bool due:date"
	@[ -n "$(NAME)" ] && [ -n "$(FIELDS)" ] || { echo 'usage: make scaffold NAME=widget FIELDS="title:string done:bool due:date"'; exit 2; }
	$(GO) run ./tools/scaffold $(NAME) $(FIELDS)

rename: ## give your clone its own module path: make rename MODULE=github.com/you/app
	@[ -n "$(MODULE)" ] || { echo "usage: make rename MODULE=github.com/you/app"; exit 2; }
	$(GO) run ./tools/rename $(MODULE)

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build output and development data
	rm -rf $(BIN) data
