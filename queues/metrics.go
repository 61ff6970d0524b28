package queues

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/bullmq"
)

// unknownJobName is the job_name label of jobs whose name the registry does not know, so
// names sent by mistake cannot grow the number of series without bound.
const unknownJobName = "unknown"

// Metrics are the Prometheus metrics of the workers and of the queue sampler.
type Metrics struct {
	processed *prometheus.CounterVec
	failed    *prometheus.CounterVec
	retried   *prometheus.CounterVec
	stalled   *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	wait      *prometheus.HistogramVec

	depth      *prometheus.GaugeVec
	deadLetter prometheus.Gauge
	recorded   prometheus.Counter
	// sampled is true while depth and deadLetter hold a current sample.
	sampled atomic.Bool
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	jobLabels := []string{"queue", "job_name"}
	buckets := []float64{.005, .025, .1, .25, 1, 2.5, 10, 30, 60, 300, 900}
	m := &Metrics{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nimara_jobs_processed_total",
			Help: "Job attempts this process finished, whatever their outcome.",
		}, jobLabels),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nimara_jobs_failed_total",
			Help: "Jobs this process failed for good, with no retry left.",
		}, jobLabels),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nimara_jobs_retried_total",
			Help: "Failed job attempts this process scheduled for a retry.",
		}, jobLabels),
		stalled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nimara_jobs_stalled_total",
			Help: "Stalled jobs this process's stalled check moved back to wait.",
		}, []string{"queue"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nimara_job_duration_seconds",
			Help:    "Time the handler took for one job attempt, by outcome.",
			Buckets: buckets,
		}, []string{"queue", "job_name", "status"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nimara_job_wait_seconds",
			Help:    "Time a job waited between becoming ready and its first start.",
			Buckets: buckets,
		}, []string{"queue"}),
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "nimara_queue_jobs",
			Help: "Jobs in each queue by state, sampled by the elected process only.",
		}, []string{"queue", "state"}),
		deadLetter: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "nimara_dead_letter_jobs",
			Help: "Entries in the dead-letter queue, sampled by the elected process only.",
		}),
		recorded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nimara_dead_letter_recorded_total",
			Help: "Dead-letter entries this process added.",
		}),
	}

	collectors := []prometheus.Collector{m.processed, m.failed, m.retried, m.stalled,
		m.duration, m.wait, m.depth, m.recorded}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// The dead-letter gauge is only exported while its value is a current sample.
	if err := reg.Register(&sampledGauge{gauge: m.deadLetter, m: m}); err != nil {
		return nil, err
	}
	return m, nil
}

// sampledGauge exports its gauge only while the metrics hold a sample.
type sampledGauge struct {
	gauge prometheus.Gauge
	m     *Metrics
}

func (g *sampledGauge) Describe(ch chan<- *prometheus.Desc) { g.gauge.Describe(ch) }

func (g *sampledGauge) Collect(ch chan<- prometheus.Metric) {
	if g.m.hasSample() {
		g.gauge.Collect(ch)
	}
}

func (m *Metrics) hasSample() bool { return m.sampled.Load() }

// instrument wraps fn to observe each attempt's duration and the wait before a job's first
// start.
func (m *Metrics) instrument(queue string, known func(string) bool,
	fn bullmq.ProcessFunc) bullmq.ProcessFunc {
	return func(ctx context.Context, job *bullmq.Job) (any, error) {
		name := jobNameLabel(job.Name, known)
		if job.AttemptsMade == 0 && job.ProcessedOn > 0 {
			ready := job.Timestamp + job.Delay
			waited := time.Duration(max(job.ProcessedOn-ready, 0)) * time.Millisecond
			m.wait.WithLabelValues(queue).Observe(waited.Seconds())
		}

		start := time.Now()
		result, err := fn(ctx, job)

		status := "completed"
		if err != nil {
			status = "failed"
		}
		m.duration.WithLabelValues(queue, name, status).Observe(time.Since(start).Seconds())
		return result, err
	}
}

// jobNameLabel returns name when known reports it, else unknownJobName.
func jobNameLabel(name string, known func(string) bool) string {
	if known != nil && known(name) {
		return name
	}
	return unknownJobName
}

// observeCompleted counts a completed attempt.
func (m *Metrics) observeCompleted(queue, name string) {
	m.processed.WithLabelValues(queue, name).Inc()
}

// observeFailed counts a failed attempt, as retried or, when final, as failed.
func (m *Metrics) observeFailed(queue, name string, final bool) {
	m.processed.WithLabelValues(queue, name).Inc()
	if final {
		m.failed.WithLabelValues(queue, name).Inc()
	} else {
		m.retried.WithLabelValues(queue, name).Inc()
	}
}

// observeStalled counts a stalled job moved back to wait.
func (m *Metrics) observeStalled(queue string) {
	m.stalled.WithLabelValues(queue).Inc()
}

// ObserveRecorded counts a dead-letter entry added by this process.
func (m *Metrics) ObserveRecorded() { m.recorded.Inc() }

// depthStates are the states the sampler counts.
var depthStates = []string{"waiting", "active", "delayed", "prioritized", "completed",
	"failed", "waiting-children", "paused"}

// Sample reads the job counts of every catalog queue and the size of the dead-letter
// queue into the gauges.
func (m *Metrics) Sample(ctx context.Context, client redis.UniversalClient,
	prefix string) error {
	for _, name := range Names() {
		q := bullmq.NewQueue(client, name, bullmq.QueueOpts{Prefix: prefix,
			Logger: slog.New(slog.DiscardHandler)})
		counts, err := q.GetJobCounts(ctx, depthStates...)
		if err != nil {
			return err
		}
		for state, n := range counts {
			m.depth.WithLabelValues(name, state).Set(float64(n))
		}
	}

	dl := NewDeadLetter(client, DeadLetterConfig{Prefix: prefix})
	size, err := dl.Size(ctx)
	if err != nil {
		return err
	}
	m.deadLetter.Set(float64(size))
	m.sampled.Store(true)
	return nil
}

// clearSample removes the sampled values, so a process that lost the election exports no
// stale depth.
func (m *Metrics) clearSample() {
	m.sampled.Store(false)
	m.depth.Reset()
}

// RunSampler samples every interval while isLeader returns true and clears the samples
// while it returns false, until ctx ends. Errors are logged and clear the samples.
func (m *Metrics) RunSampler(ctx context.Context, client redis.UniversalClient,
	prefix string, interval time.Duration, isLeader func() bool, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	for {
		if isLeader == nil || isLeader() {
			err := m.Sample(ctx, client, prefix)
			if err != nil && !errors.Is(ctx.Err(), context.Canceled) {
				logger.WarnContext(ctx, "Sampling queue depth failed", slog.Any("err", err))
				m.clearSample()
			}
		} else {
			m.clearSample()
		}

		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
