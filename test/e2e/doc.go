// Package e2e runs the parley binary as a user would and drives it with SIP
// clients nobody on the team wrote: baresip places a real call with audio,
// SIPp registers and calls through the proxy and checks forking, and the
// RFC 4475 torture messages are thrown at the running server.
//
// The tests build ./cmd/parley once (or use the binary PARLEY_BIN names),
// start `parley serve` on free loopback ports with a data directory of
// their own, and stop it with SIGTERM.
// A test whose external tool (baresip, sipp, sox) is missing is skipped, so
// `go test ./...` passes on a bare machine; with PARLEY_E2E=1 (set by
// .ci/run) a missing tool fails the test instead.
//
// The package has no non-test code: the tests are the product.
package e2e
