package proxy

import (
	"log/slog"
	"os"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestMain quiets sipgo's package-wide logger, which reports connection
// reference counts going negative when test user agents are closed with
// transactions still open: teardown noise, not proxy behaviour. Errors
// still show.
func TestMain(m *testing.M) {
	sip.SetDefaultLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	os.Exit(m.Run())
}
