package bullmq

import (
	"testing"
	"time"

	"github.com/portnimara/nimara/internal/nodepeer"
)

func TestParseCron_Rejects(t *testing.T) {
	t.Parallel()

	for _, expr := range []string{
		"", "* * * *", "* * * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
		"* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "* * * * foo",
		"* * * * 1#6", "* * * * 1-2#2", "* * 15W * *", "a * * * *", "1,,2 * * * *",
	} {
		if _, err := parseCron(expr); err == nil {
			t.Errorf("parseCron(%q) succeeded, want an error", expr)
		}
	}
}

func TestCronSchedule_NextUTC(t *testing.T) {
	t.Parallel()

	from := time.Date(2026, 1, 30, 23, 59, 58, 500e6, time.UTC)
	tests := []struct {
		expr string
		want time.Time
	}{
		{"* * * * * *", time.Date(2026, 1, 30, 23, 59, 59, 0, time.UTC)},
		{"*/5 * * * * *", time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)},
		{"0 12 * * *", time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)},
		{"0 0 L * *", time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)},
		{"0 0 1 feb-mar *", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"0 9 * * MON#2", time.Date(2026, 2, 9, 9, 0, 0, 0, time.UTC)},
		{"0 9 * * 5L", time.Date(2026, 2, 27, 9, 0, 0, 0, time.UTC)},
		{"0 0 29 2 *", time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"0 0 13 * 5", time.Date(2026, 2, 6, 0, 0, 0, 0, time.UTC)},
		{"@weekly", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		c, err := parseCron(tt.expr)
		if err != nil {
			t.Errorf("parseCron(%q): %v", tt.expr, err)
			continue
		}
		got, ok := c.next(from, time.UTC)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("next(%q) = %s, %v; want %s", tt.expr, got, ok, tt.want)
		}
	}

	never, _ := parseCron("0 0 30 2 *")
	if got, ok := never.next(from, time.UTC); ok {
		t.Errorf("next of February 30 = %s, want none", got)
	}
}

// TestCronSchedule_MatchesNodeCronParser compares the fire times with those of the npm
// package cron-parser that bullmq 6.7.6 depends on, around daylight saving changes.
func TestCronSchedule_MatchesNodeCronParser(t *testing.T) {
	t.Parallel()

	peer := nodepeer.Start(t, 6)
	version := nodepeer.MustEvalAs[string](t, peer,
		`return require('cron-parser/package.json').version;`, nil)
	t.Logf("cron-parser %s", version)

	type tcase struct {
		Expr string `json:"expr"`
		TZ   string `json:"tz"`
		From int64  `json:"from"`
	}
	ms := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("parse %s: %v", s, err)
		}
		return tm.UnixMilli()
	}
	var cases []tcase
	for _, expr := range []string{
		"30 2 * * *", "0 * * * *", "*/15 * * * *", "0 3 * * *", "0 1 * * *",
		"0 0 2 * * *", "0 30 1 * * *", "*/20 * * * * *", "0 9 * * 1-5", "0 0 L * *",
		"0 1-3 * * *", "0 */2 * * *", "0 1,2 * * *", "*/30 1 * * *", "0 0-23 * * *",
		"15 2 * * SUN", "0 0 1-7 * 1", "0 12 * * 6#1",
	} {
		for _, zone := range []struct{ tz, spring, fall string }{
			{"Europe/Paris", "2026-03-28T22:00:00Z", "2026-10-24T21:59:59.5Z"},
			{"America/New_York", "2026-03-07T23:30:00Z", "2026-10-31T22:00:00Z"},
			{"UTC", "2026-03-28T22:00:00Z", "2026-12-31T23:00:00Z"},
		} {
			cases = append(cases, tcase{expr, zone.tz, ms(zone.spring)},
				tcase{expr, zone.tz, ms(zone.fall)})
		}
	}

	const steps = 30
	want := nodepeer.MustEvalAs[[][]int64](t, peer, `
const { CronExpressionParser } = require('cron-parser');
return args.cases.map(c => {
  const it = CronExpressionParser.parse(c.expr, { currentDate: new Date(c.from), tz: c.tz });
  const out = [];
  for (let i = 0; i < args.steps; i++) out.push(it.next().getTime());
  return out;
});`, map[string]any{"cases": cases, "steps": steps})

	for i, c := range cases {
		cron, err := parseCron(c.Expr)
		if err != nil {
			t.Fatalf("parseCron(%q): %v", c.Expr, err)
		}
		loc, err := time.LoadLocation(c.TZ)
		if err != nil {
			t.Fatalf("LoadLocation(%q): %v", c.TZ, err)
		}

		at := time.UnixMilli(c.From)
		for step := range steps {
			next, ok := cron.next(at, loc)
			if !ok || next.UnixMilli() != want[i][step] {
				t.Errorf("%q in %s from %s, step %d: got %s, cron-parser %s", c.Expr, c.TZ,
					time.UnixMilli(c.From).UTC().Format(time.RFC3339), step,
					next.In(loc).Format(time.RFC3339),
					time.UnixMilli(want[i][step]).In(loc).Format(time.RFC3339))
				break
			}
			at = next
		}
	}
}
