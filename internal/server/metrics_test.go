package server

import (
	"net/http"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/parleyhq/parley/internal/config"
)

// TestMetricsEndpoint scrapes GET /metrics on a running server and checks
// that the roles' collectors are there with values taken from the roles
// (the MCU's capacity is the configured one), in a format Prometheus
// parses.
func TestMetricsEndpoint(t *testing.T) {
	info, _ := startServer(t, true)
	res, err := http.Get(info.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	value := func(name string) (float64, bool) {
		f, ok := fams[name]
		if !ok || len(f.GetMetric()) == 0 {
			return 0, false
		}
		m := f.GetMetric()[0]
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		}
		return 0, false
	}
	want := map[string]float64{
		"parley_avmcu_legs_max":                    float64(config.Default().AVMCU.MaxLegs),
		"parley_avmcu_legs":                        0,
		"parley_attendant_calls_active":            0,
		"parley_attendant_guesses_throttled_total": 0,
		"parley_attendant_guess_hangups_total":     0,
		"parley_attendant_media_legs_max":          float64(config.Default().Attendant.MaxCalls),
		"parley_mediation_calls_active":            0,
	}
	for name, v := range want {
		got, ok := value(name)
		if !ok || got != v {
			t.Errorf("%s = %v (present %v); want %v", name, got, ok, v)
		}
	}
	// Both lag summaries, one gauge per quantile, zero before any tick.
	for _, name := range []string{"parley_avmcu_tick_lag_seconds", "parley_avmcu_send_lag_seconds"} {
		if f, ok := fams[name]; !ok || len(f.GetMetric()) != 4 {
			t.Errorf("%s: %v, want 4 quantiles", name, f)
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("the Go runtime collector is missing")
	}
}
