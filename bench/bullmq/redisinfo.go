package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// commandStat is a command's entry in INFO commandstats.
type commandStat struct {
	calls int64
	usec  int64
}

// serverSample is a reading of the server's cumulative counters.
type serverSample struct {
	// cpu is the main thread's user+sys time, or the whole process's on servers that do not
	// report the main thread (before Redis 6.2).
	cpu      time.Duration
	commands map[string]commandStat
}

// sampleServer reads INFO cpu and INFO commandstats in one call.
func sampleServer(ctx context.Context, client *redis.Client) (serverSample, error) {
	text, err := client.Info(ctx, "cpu", "commandstats").Result()
	if err != nil {
		return serverSample{}, fmt.Errorf("INFO cpu commandstats: %w", err)
	}

	fields := map[string]string{}
	sample := serverSample{commands: map[string]commandStat{}}
	for line := range strings.SplitSeq(text, "\n") {
		key, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		if name, ok := strings.CutPrefix(key, "cmdstat_"); ok {
			sample.commands[name] = parseCommandStat(value)
			continue
		}
		fields[key] = value
	}

	user, sys := "used_cpu_user_main_thread", "used_cpu_sys_main_thread"
	if _, ok := fields[user]; !ok {
		user, sys = "used_cpu_user", "used_cpu_sys"
	}
	for _, key := range []string{user, sys} {
		secs, err := strconv.ParseFloat(fields[key], 64)
		if err != nil {
			return serverSample{}, fmt.Errorf("invalid INFO field %s %q: %w", key, fields[key], err)
		}
		sample.cpu += time.Duration(secs * float64(time.Second))
	}
	return sample, nil
}

// parseCommandStat reads "calls=N,usec=N,usec_per_call=F,...". Unknown fields are ignored.
func parseCommandStat(value string) commandStat {
	var stat commandStat
	for pair := range strings.SplitSeq(value, ",") {
		key, number, _ := strings.Cut(pair, "=")
		n, _ := strconv.ParseInt(number, 10, 64)
		switch key {
		case "calls":
			stat.calls = n
		case "usec":
			stat.usec = n
		}
	}
	return stat
}

// commandDelta returns the growth of each command's counters from before to after.
func commandDelta(before, after map[string]commandStat) map[string]commandStat {
	delta := map[string]commandStat{}
	for name, a := range after {
		b := before[name]
		if a.calls > b.calls {
			delta[name] = commandStat{calls: a.calls - b.calls, usec: a.usec - b.usec}
		}
	}
	return delta
}

// deleteKeys unlinks every key matching pattern, found with SCAN.
func deleteKeys(ctx context.Context, client *redis.Client, pattern string) error {
	iter := client.Scan(ctx, 0, pattern, 1000).Iterator()
	batch := make([]string, 0, 1000)
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == cap(batch) {
			if err := client.Unlink(ctx, batch...).Err(); err != nil {
				return fmt.Errorf("UNLINK: %w", err)
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("SCAN %s: %w", pattern, err)
	}
	if len(batch) > 0 {
		if err := client.Unlink(ctx, batch...).Err(); err != nil {
			return fmt.Errorf("UNLINK: %w", err)
		}
	}
	return nil
}

// describeMachine returns the header of the report: hardware, versions, load and settings.
func describeMachine(ctx context.Context, cfg config, client *redis.Client) (string, error) {
	server, err := client.Info(ctx, "server").Result()
	if err != nil {
		return "", fmt.Errorf("INFO server: %w", err)
	}

	nodeVersion, err := exec.CommandContext(ctx, cfg.nodeBin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("run %s --version: %w", cfg.nodeBin, err)
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "cpu: %s, %d cores\n", cpuModel(), runtime.NumCPU())
	fmt.Fprintf(&sb, "redis %s, node %s, %s (harness build)\n", infoField(server,
		"redis_version"), strings.TrimSpace(string(nodeVersion)), runtime.Version())
	fmt.Fprintf(&sb, "jobs %d per scenario, %d runs, payload %d bytes, addBulk batch %d\n",
		cfg.jobs, cfg.runs, cfg.payloadBytes, cfg.batch)
	fmt.Fprintf(&sb, "load average at start: %s\n\n", loadAverage())
	return sb.String(), nil
}

func infoField(info, key string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if value, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			return value
		}
	}
	return "unknown"
}

func cpuModel() string {
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(cpuinfo), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}

// loadAverage returns the 1, 5 and 15 minute load averages from /proc/loadavg.
func loadAverage() string {
	loadavg, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(loadavg))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}
