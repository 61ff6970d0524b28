package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// peerEvent is one line a peer writes on stdout.
type peerEvent struct {
	Event     string  `json:"event"`
	ElapsedMS float64 `json:"elapsed_ms"`
	Jobs      int     `json:"jobs"`
}

// runPeer starts the peer process of side s for one scenario and measures it. The Redis
// counters are sampled between the peer's "ready" and "done" lines, and VmHWM is read
// before stdin is closed, which ends the peer.
func (b *bench) runPeer(ctx context.Context, s side, sc scenario, queue string) (measurement,
	error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.scenarioTimeout)
	defer cancel()

	cmd := b.peerCommand(ctx, s, sc, queue)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return measurement{}, fmt.Errorf("stdin pipe: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return measurement{}, fmt.Errorf("stdout pipe: %w", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if b.cfg.peerStderr {
		cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	}
	cmd.WaitDelay = 10 * time.Second

	if err := cmd.Start(); err != nil {
		return measurement{}, fmt.Errorf("start %s: %w", cmd.Path, err)
	}

	m, err := b.drivePeer(ctx, cmd.Process.Pid, stdin, stdout)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return measurement{}, fmt.Errorf("%w\npeer stderr:\n%s", err, lastLines(stderr.String(), 20))
	}
	if err := cmd.Wait(); err != nil {
		return measurement{}, fmt.Errorf("peer exit: %w\npeer stderr:\n%s", err,
			lastLines(stderr.String(), 20))
	}

	m.side, m.scenario = s, sc
	return m, nil
}

// drivePeer runs the ready/start/done exchange and closes stdin at the end.
func (b *bench) drivePeer(ctx context.Context, pid int, stdin io.WriteCloser,
	stdout io.Reader) (measurement, error) {
	defer stdin.Close()
	lines := bufio.NewScanner(stdout)

	if _, err := readEvent(lines, "ready"); err != nil {
		return measurement{}, err
	}
	before, err := sampleServer(ctx, b.client)
	if err != nil {
		return measurement{}, err
	}
	peerCPUBefore, err := processCPU(pid)
	if err != nil {
		return measurement{}, err
	}

	if _, err := io.WriteString(stdin, "start\n"); err != nil {
		return measurement{}, fmt.Errorf("write start: %w", err)
	}
	done, err := readEvent(lines, "done")
	if err != nil {
		return measurement{}, err
	}
	after, err := sampleServer(ctx, b.client)
	if err != nil {
		return measurement{}, err
	}
	peerCPUAfter, err := processCPU(pid)
	if err != nil {
		return measurement{}, err
	}

	rss, err := peakRSS(pid)
	if err != nil {
		return measurement{}, err
	}
	return measurement{
		jobs:       done.Jobs,
		elapsed:    time.Duration(done.ElapsedMS * float64(time.Millisecond)),
		redisCPU:   after.cpu - before.cpu,
		peerCPU:    peerCPUAfter - peerCPUBefore,
		peakRSSKiB: rss,
		commands:   commandDelta(before.commands, after.commands),
	}, nil
}

// peerCommand builds the command line of side s. Both peers take the same flags.
func (b *bench) peerCommand(ctx context.Context, s side, sc scenario, queue string) *exec.Cmd {
	mode := "work"
	if sc.add {
		mode = "add"
	}
	args := []string{
		"--mode=" + mode,
		"--redis=" + b.cfg.redisURL,
		"--prefix=" + b.prefix,
		"--queue=" + queue,
		"--jobs=" + strconv.Itoa(b.cfg.jobs),
		"--concurrency=" + strconv.Itoa(max(sc.concurrency, 1)),
		"--batch=" + strconv.Itoa(b.cfg.batch),
		"--data=" + b.data,
	}

	if s == sideNode {
		interop, _ := filepath.Abs(filepath.Join(b.cfg.root, "interop"))
		script := filepath.Join(b.cfg.root, "bench", "bullmq", "nodepeer", "peer.mjs")
		args = append([]string{script, "--interop=" + interop}, args...)
		return exec.CommandContext(ctx, b.cfg.nodeBin, args...)
	}

	if b.cfg.goPoolSize > 0 {
		args = append(args, "--pool-size="+strconv.Itoa(b.cfg.goPoolSize))
	}
	if b.cfg.goCPUProfile != "" && !b.goProfiled && sc.concurrency == b.maxConcurrency() {
		args = append(args, "--cpuprofile="+b.cfg.goCPUProfile)
		b.goProfiled = true
	}
	return exec.CommandContext(ctx, b.gopeer, args...)
}

func (b *bench) maxConcurrency() int {
	return slices.Max(b.cfg.concurrency)
}

// readEvent reads the next stdout line and checks that it is the event want.
func readEvent(lines *bufio.Scanner, want string) (peerEvent, error) {
	if !lines.Scan() {
		if err := lines.Err(); err != nil {
			return peerEvent{}, fmt.Errorf("read peer output: %w", err)
		}
		return peerEvent{}, fmt.Errorf("peer closed stdout before %q: %w", want, errPeerProtocol)
	}

	var ev peerEvent
	if err := json.Unmarshal(lines.Bytes(), &ev); err != nil || ev.Event != want {
		return peerEvent{}, fmt.Errorf("line %q, want event %q: %w", lines.Text(), want,
			errPeerProtocol)
	}
	return ev, nil
}

// peakRSS returns VmHWM of process pid in KiB, from /proc/<pid>/status (Linux only).
func peakRSS(pid int) (int64, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	status, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		value, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid VmHWM line %q in %s: %w", line, path, err)
		}
		return kib, nil
	}
	return 0, fmt.Errorf("no VmHWM line in %s", path)
}

// clockTicksPerSecond is USER_HZ, the unit of the CPU times in /proc/<pid>/stat. It is 100
// on every Linux architecture Go supports.
const clockTicksPerSecond = 100

// processCPU returns the user+sys CPU time of process pid, from /proc/<pid>/stat.
func processCPU(pid int) (time.Duration, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	stat, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read process CPU time: %w", err)
	}

	// The command name in field 2 may contain spaces, so count fields after its ')'.
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("invalid %s: %q", path, stat)
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("invalid %s: %q", path, stat)
	}
	var ticks int64
	for _, field := range fields[11:13] { // utime and stime, fields 14 and 15
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid CPU time %q in %s: %w", field, path, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicksPerSecond, nil
}

func lastLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// minPayloadBytes is the length of payload's JSON object with an empty pad.
const minPayloadBytes = len(`{"pad":""}`)

// payload returns a JSON object of exactly size bytes (at least minPayloadBytes).
func payload(size int) string {
	return `{"pad":"` + strings.Repeat("x", size-minPayloadBytes) + `"}`
}
