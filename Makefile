# Thin aliases: `go test ./...` alone must always work.
GOLANGCI_LINT ?= golangci-lint
FUZZTIME      ?= 10s
PKGS          := ./...

.PHONY: all test short race fuzz bench lint ci

all: lint test

test:                      ## unit, integration and end-to-end tests (e2e skip without baresip/sipp/sox)
	go test -count=1 $(PKGS)

short:                     ## the fast inner loop
	go test -short $(PKGS)

race:
	go test -race -short $(PKGS)

fuzz:                      ## every Fuzz target for FUZZTIME each
	@for pkg in $$(go list $(PKGS)); do \
	  for fz in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$fz"; go test -run '^$$' -fuzz "^$$fz$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench:                     ## SIP load against Kamailio (QUICK=1 for a short run)
	test/load/bench.sh

lint:
	$(GOLANGCI_LINT) run $(PKGS)

ci:                        ## what CI runs, tools installed on the way
	.ci/run
