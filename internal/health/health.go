// Package health serves the operations endpoints of a nimara process: /healthz (the process
// is alive), /readyz (its dependencies are reachable and its workers run) and /metrics
// (Prometheus).
package health

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness condition.
type Check struct {
	// Name identifies the check in the /readyz report, such as "redis".
	Name string
	// Func returns nil when the condition holds.
	Func func(ctx context.Context) error
}

// Config configures the handler that NewHandler builds.
type Config struct {
	// Gatherer supplies /metrics. Nil serves no /metrics.
	Gatherer prometheus.Gatherer
	// Checks are the readiness conditions of /readyz, run in order.
	Checks []Check
	// Timeout bounds each check. Default 2s.
	Timeout time.Duration
}

// NewHandler returns the handler of /healthz, /readyz and /metrics.
//
// /healthz always responds 200 "ok". /readyz responds 200 with one "<name>: ok" line per
// check when every check passes, and 503 with the failing checks' errors otherwise, so a
// Kubernetes readiness probe takes the pod out of rotation while Redis or PostgreSQL is
// unreachable.
func NewHandler(cfg Config) http.Handler {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		report, ready := runChecks(r.Context(), cfg.Checks, cfg.Timeout)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprint(w, report)
	})
	if cfg.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

// runChecks runs every check and returns the report and whether all passed.
func runChecks(ctx context.Context, checks []Check, timeout time.Duration) (string, bool) {
	var b strings.Builder
	ready := true
	for _, c := range checks {
		checkCtx, cancel := context.WithTimeout(ctx, timeout)
		err := c.Func(checkCtx)
		cancel()

		if err != nil {
			ready = false
			fmt.Fprintf(&b, "%s: %v\n", c.Name, err)
			continue
		}
		fmt.Fprintf(&b, "%s: ok\n", c.Name)
	}
	return b.String(), ready
}
