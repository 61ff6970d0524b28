package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/config"
	"github.com/portnimara/nimara/internal/health"
	"github.com/portnimara/nimara/queues"
)

// envMetricsAddr is the environment variable of --metrics-addr.
const envMetricsAddr = "NIMARA_METRICS_ADDR"

// defaultMetricsAddr returns NIMARA_METRICS_ADDR when set, else ":9464".
func defaultMetricsAddr(f *Factory) string {
	if f.Getenv != nil {
		if v := f.Getenv(envMetricsAddr); v != "" {
			return v
		}
	}
	return ":9464"
}

// opsDeps are the dependencies of the worker's background services.
type opsDeps struct {
	opts       *WorkerOptions
	cfg        config.Config
	logger     *slog.Logger
	rdb        *redis.Client
	pool       *pgxpool.Pool
	reg        *prometheus.Registry
	metrics    *queues.Metrics
	deadLetter *queues.DeadLetter
	runner     *queues.Runner
}

// startOps starts the leader election, the dead-letter sweeper, the depth sampler and the
// HTTP server of /metrics, /healthz and /readyz. The returned function stops them all.
func startOps(ctx context.Context, d opsDeps) (func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop := func() {
		cancel()
		wg.Wait()
	}

	elector := queues.NewElector(d.rdb, d.cfg.Prefix, "worker", 0, d.logger)
	sweeper := queues.NewSweeper(d.deadLetter)
	wg.Go(func() { elector.Run(ctx) })
	wg.Go(func() { sweeper.RunSweeper(ctx, d.opts.SweepInterval, elector.IsLeader) })
	wg.Go(func() {
		d.metrics.RunSampler(ctx, d.rdb, d.cfg.Prefix, d.opts.SampleInterval,
			elector.IsLeader, d.logger)
	})

	if d.opts.MetricsAddr == "" {
		return stop, nil
	}

	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(
		collectors.ProcessCollectorOpts{}))
	handler := health.NewHandler(health.Config{
		Gatherer: d.reg,
		Checks: []health.Check{
			{Name: "redis", Func: func(ctx context.Context) error {
				return d.rdb.Ping(ctx).Err()
			}},
			{Name: "postgres", Func: d.pool.Ping},
			{Name: "workers", Func: func(context.Context) error {
				if !d.runner.Running() {
					return errors.New("workers are not running")
				}
				return nil
			}},
		},
	})

	listener, err := net.Listen("tcp", d.opts.MetricsAddr)
	if err != nil {
		stop()
		return nil, fmt.Errorf("listen on --metrics-addr %s: %w", d.opts.MetricsAddr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	wg.Go(func() {
		if err := srv.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.logger.ErrorContext(ctx, "Metrics server failed", slog.Any("err", err))
		}
	})
	wg.Go(func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	})

	d.logger.InfoContext(ctx, "Serving metrics and health checks",
		slog.String("addr", listener.Addr().String()))
	return stop, nil
}
