package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// rate returns jobs per second.
func (m measurement) rate() float64 {
	return float64(m.jobs) / m.elapsed.Seconds()
}

// cpuPerJob returns the Redis CPU microseconds spent per job.
func (m measurement) cpuPerJob() float64 {
	return float64(m.redisCPU) / float64(time.Microsecond) / float64(m.jobs)
}

// peerCPUPerJob returns the peer process's CPU microseconds per job.
func (m measurement) peerCPUPerJob() float64 {
	return float64(m.peerCPU) / float64(time.Microsecond) / float64(m.jobs)
}

// redisBusy returns the share of the measured time the Redis main thread spent on CPU, in
// percent of one core. Near 100 the server, not the client, limits the rate.
func (m measurement) redisBusy() float64 {
	return 100 * m.redisCPU.Seconds() / m.elapsed.Seconds()
}

func (m measurement) peakRSSMiB() float64 {
	return float64(m.peakRSSKiB) / 1024
}

func printMeasurement(w io.Writer, m measurement) {
	fmt.Fprintf(w, "run %d %-4s %-4s %6.0f jobs/s  %5.1f us Redis CPU/job  "+
		"Redis busy %3.0f%%  %5.1f us peer CPU/job  %5.1f MiB peak RSS\n", m.run+1,
		m.scenario, m.side, m.rate(), m.cpuPerJob(), m.redisBusy(), m.peerCPUPerJob(),
		m.peakRSSMiB())
}

// metricRow is one line of the summary table.
type metricRow struct {
	label  string
	sc     scenario
	value  func(measurement) float64
	format string
	// target is the Go/Node ratio to meet, 0 for none. atMost selects ≤ over ≥.
	target float64
	atMost bool
}

// targetConcurrency is the concurrency at which Go must process 1.5 times Node's rate.
const targetConcurrency = 50

func summaryRows(cfg config) []metricRow {
	add := scenario{add: true}
	rows := []metricRow{{
		label: fmt.Sprintf("addBulk jobs/s (batch %d)", cfg.batch), sc: add,
		value: measurement.rate, format: "%.0f",
	}}
	for _, c := range cfg.concurrency {
		row := metricRow{label: fmt.Sprintf("process jobs/s, concurrency %d", c),
			sc: scenario{concurrency: c}, value: measurement.rate, format: "%.0f"}
		if c == targetConcurrency {
			row.target = 1.5
		}
		rows = append(rows, row)
	}

	rows = append(rows, metricRow{label: "Redis CPU us/job, addBulk", sc: add,
		value: measurement.cpuPerJob, format: "%.1f"})
	for _, c := range cfg.concurrency {
		rows = append(rows, metricRow{label: fmt.Sprintf("Redis CPU us/job, concurrency %d", c),
			sc: scenario{concurrency: c}, value: measurement.cpuPerJob, format: "%.1f",
			target: 1, atMost: true})
	}
	for _, c := range cfg.concurrency {
		rows = append(rows, metricRow{label: fmt.Sprintf("Redis CPU %% of time, concurrency %d", c),
			sc: scenario{concurrency: c}, value: measurement.redisBusy, format: "%.0f"})
	}
	rows = append(rows, metricRow{label: "client CPU us/job, addBulk", sc: add,
		value: measurement.peerCPUPerJob, format: "%.1f"})
	for _, c := range cfg.concurrency {
		rows = append(rows, metricRow{label: fmt.Sprintf("worker CPU us/job, concurrency %d", c),
			sc: scenario{concurrency: c}, value: measurement.peerCPUPerJob, format: "%.1f"})
	}
	for _, c := range cfg.concurrency {
		rows = append(rows, metricRow{label: fmt.Sprintf("worker peak RSS MiB, concurrency %d", c),
			sc: scenario{concurrency: c}, value: measurement.peakRSSMiB, format: "%.1f",
			target: 0.25, atMost: true})
	}
	return rows
}

// printReport prints the median of every metric per side, the Go/Node ratio and the
// commands per processed job.
func printReport(w io.Writer, cfg config, results []measurement) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "metric (median of %d runs)\tnode\tgo\tgo/node\ttarget\t\n", cfg.runs)
	for _, row := range summaryRows(cfg) {
		node := median(results, sideNode, row.sc, row.value)
		goValue := median(results, sideGo, row.sc, row.value)
		ratio := goValue / node
		fmt.Fprintf(tw, "%s\t"+row.format+"\t"+row.format+"\t%.2f\t%s\t\n",
			row.label, node, goValue, ratio, row.verdict(ratio))
	}
	_ = tw.Flush()

	sc := scenario{concurrency: slices.Max(cfg.concurrency)}
	fmt.Fprintf(w, "\nRedis commands per processed job at concurrency %d, all runs "+
		"(commands run by scripts are counted too):\n", sc.concurrency)
	printCommands(w, results, sc)
}

func (r metricRow) verdict(ratio float64) string {
	switch {
	case r.target == 0:
		return ""
	case r.atMost && ratio <= r.target, !r.atMost && ratio >= r.target:
		return fmt.Sprintf("%s %.2f met", r.comparison(), r.target)
	}
	return fmt.Sprintf("%s %.2f MISSED", r.comparison(), r.target)
}

func (r metricRow) comparison() string {
	if r.atMost {
		return "<="
	}
	return ">="
}

func median(results []measurement, s side, sc scenario, value func(measurement) float64) float64 {
	var values []float64
	for _, m := range results {
		if m.side == s && m.scenario == sc {
			values = append(values, value(m))
		}
	}
	if len(values) == 0 {
		return 0
	}
	slices.Sort(values)
	mid := len(values) / 2
	if len(values)%2 == 1 {
		return values[mid]
	}
	return (values[mid-1] + values[mid]) / 2
}

// perJobStat is a command's calls and server time per processed job.
type perJobStat struct {
	calls, usec float64
}

func commandsPerJob(results []measurement, s side, sc scenario) map[string]perJobStat {
	sums := map[string]commandStat{}
	jobs := 0
	for _, m := range results {
		if m.side != s || m.scenario != sc {
			continue
		}
		jobs += m.jobs
		for name, stat := range m.commands {
			sum := sums[name]
			sums[name] = commandStat{calls: sum.calls + stat.calls, usec: sum.usec + stat.usec}
		}
	}

	perJob := map[string]perJobStat{}
	for name, sum := range sums {
		perJob[name] = perJobStat{
			calls: float64(sum.calls) / float64(jobs),
			usec:  float64(sum.usec) / float64(jobs),
		}
	}
	return perJob
}

// minCallsPerJob hides commands that ran less than once per 200 jobs on both sides.
const minCallsPerJob = 0.005

func printCommands(w io.Writer, results []measurement, sc scenario) {
	node := commandsPerJob(results, sideNode, sc)
	goStats := commandsPerJob(results, sideGo, sc)

	var names []string
	var nodeTotal, goTotal perJobStat
	for _, stats := range []map[string]perJobStat{node, goStats} {
		for name := range stats {
			if !slices.Contains(names, name) &&
				max(node[name].calls, goStats[name].calls) >= minCallsPerJob {
				names = append(names, name)
			}
		}
	}
	for name := range node {
		nodeTotal.calls += node[name].calls
		nodeTotal.usec += node[name].usec
	}
	for name := range goStats {
		goTotal.calls += goStats[name].calls
		goTotal.usec += goStats[name].usec
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Compare(max(node[b].calls, goStats[b].calls),
			max(node[a].calls, goStats[a].calls))
	})

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "command\tnode calls\tgo calls\tnode usec\tgo usec\t")
	for _, name := range names {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.1f\t%.1f\t\n", name, node[name].calls,
			goStats[name].calls, node[name].usec, goStats[name].usec)
	}
	fmt.Fprintf(tw, "total\t%.3f\t%.3f\t%.1f\t%.1f\t\n", nodeTotal.calls, goTotal.calls,
		nodeTotal.usec, goTotal.usec)
	_ = tw.Flush()
}
