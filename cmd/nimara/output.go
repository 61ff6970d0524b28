package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/portnimara/nimara/config"
)

// errCancelled ends a command whose confirmation prompt was declined; Main exits 3.
var errCancelled = errors.New("cancelled")

// isTerminal reports whether f is a terminal. It reads f's terminal settings with an ioctl
// (TCGETS on Linux), so /dev/null and other character devices that are not terminals
// count as pipes.
func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}

func newHelpExitCodes() *cobra.Command {
	return &cobra.Command{
		Use:   "exit-codes",
		Short: "Exit codes of the nimara commands",
		Long: `nimara exits with one of these codes:

  0  Success, including an empty list, and a clean stop of worker on SIGINT or SIGTERM
  1  Failure: Redis or PostgreSQL unreachable, a job or entry not found, a failed step
  2  Usage error: a bad flag or argument, or a destructive command run without a
     terminal and without --yes
  3  Cancelled: the confirmation prompt of a destructive command was declined`,
	}
}

// printTable prints rows as a table with a header on a terminal, and as tab-separated values
// without a header when the output is piped.
func printTable(f *Factory, header []string, rows [][]string) error {
	if !f.OutTTY {
		for _, row := range rows {
			if _, err := fmt.Fprintln(f.Out, strings.Join(row, "\t")); err != nil {
				return err
			}
		}
		return nil
	}

	w := tabwriter.NewWriter(f.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, row := range rows {
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
	return w.Flush()
}

// printJSON prints v as one indented JSON value.
func printJSON(f *Factory, v any) error {
	enc := json.NewEncoder(f.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// addJSONFlag adds --json, whose help lists the keys of the output.
func addJSONFlag(cmd *cobra.Command, dst *bool, keys string) {
	cmd.Flags().BoolVar(dst, "json", false, "print JSON with the keys: "+keys)
}

// confirm prompts on the terminal before a destructive step. With yes it returns nil at
// once. Without a terminal it returns a usage error that requests --yes, and a declined
// prompt returns errCancelled.
func confirm(f *Factory, yes bool, question string) error {
	if yes {
		return nil
	}
	if !f.InTTY || f.In == nil {
		return usageErrorf("%s: run in a terminal to confirm, or pass --yes", question)
	}

	fmt.Fprintf(f.ErrOut, "%s? [y/N] ", question)
	answer, err := bufio.NewReader(f.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the confirmation: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return errCancelled
}

// progress draws a progress bar on a terminal's error stream and nothing elsewhere.
type progress struct {
	w     io.Writer
	label string
	total int
	done  int
}

// newProgress returns a progress bar for total steps, drawn on ErrOut when it is a
// terminal.
func newProgress(f *Factory, label string, total int) *progress {
	p := &progress{label: label, total: total}
	if f.ErrTTY {
		p.w = f.ErrOut
	}
	p.draw()
	return p
}

// step counts one finished step and redraws the bar.
func (p *progress) step() {
	p.done++
	p.draw()
}

const barWidth = 30

func (p *progress) draw() {
	if p.w == nil || p.total == 0 {
		return
	}
	filled := barWidth * p.done / p.total
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("#", filled),
		strings.Repeat(" ", barWidth-filled), p.done, p.total)
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p.w != nil && p.total > 0 {
		fmt.Fprintln(p.w)
	}
}

// connectRedis reads the configuration and connects to its Redis.
func connectRedis(ctx context.Context, f *Factory) (*redis.Client, config.Config, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, cfg, err
	}
	rdb, err := openRedis(ctx, cfg.RedisURL)
	if err != nil {
		return nil, cfg, err
	}
	return rdb, cfg, nil
}

// formatMillis prints Unix milliseconds as RFC 3339 UTC time, or "-" for zero.
func formatMillis(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

// tableCell prepares s for a printTable cell. It replaces newlines and tabs, which would
// break the rows, with spaces. On a terminal it also shortens s to n runes with an ellipsis,
// but piped output keeps the whole text for the scripts that read it.
func tableCell(f *Factory, s string, n int) string {
	s = strings.NewReplacer("\n", " ", "\t", " ").Replace(s)
	if !f.OutTTY {
		return s
	}

	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// subcommandGroup returns a command that only holds subcommands and prints its help.
func subcommandGroup(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
}

// minArgs is cobra.MinimumNArgs with a usage error.
func minArgs(n int, names string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErrorf("expected at least %d arguments (%s), got %d", n, names,
				len(args))
		}
		return nil
	}
}
