package bullmq

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// cronSchedule is a parsed cron expression with the semantics of the npm package
// cron-parser 5.x, which Node bullmq 6.x uses for pattern schedulers. It has five fields,
// or six with a leading seconds field. Fields take ranges, steps, lists, month and weekday
// names, and "?" as "*". The day fields also take "L" (last day of the month),
// "<weekday>L" (last such weekday) and "<weekday>#<n>" (n-th such weekday). Weekday 7 is
// Sunday, like 0.
type cronSchedule struct {
	seconds, minutes, hours, days, months, weekdays uint64

	// lastDay is set by "L" in the day-of-month field.
	lastDay bool
	// lastWeekdays has a bit per weekday written as "<weekday>L".
	lastWeekdays uint64
	// nthWeekday is n of "<weekday>#<n>", 0 when absent.
	nthWeekday int
	// dayWildcard and weekdayWildcard record a field written as "*" or "?". When both day
	// fields are restricted, a day matches if either matches, as in Vixie cron.
	dayWildcard, weekdayWildcard bool
}

// cronAliases are the predefined expressions cron-parser accepts.
var cronAliases = map[string]string{
	"@yearly":   "0 0 0 1 1 *",
	"@annually": "0 0 0 1 1 *",
	"@monthly":  "0 0 0 1 * *",
	"@weekly":   "0 0 0 * * 0",
	"@daily":    "0 0 0 * * *",
	"@hourly":   "0 0 * * * *",
	"@minutely": "0 * * * * *",
	"@secondly": "* * * * * *",
	"@weekdays": "0 0 0 * * 1-5",
	"@weekends": "0 0 0 * * 0,6",
}

var (
	monthNames = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
		"oct", "nov", "dec"}
	weekdayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
)

// cronField describes the range and names of one field.
type cronField struct {
	name     string
	min, max int
	names    []string // names[i] is the name of the value nameBase+i
	nameBase int
}

var (
	fieldSecond  = cronField{name: "second", min: 0, max: 59}
	fieldMinute  = cronField{name: "minute", min: 0, max: 59}
	fieldHour    = cronField{name: "hour", min: 0, max: 23}
	fieldDay     = cronField{name: "day of month", min: 1, max: 31}
	fieldMonth   = cronField{name: "month", min: 1, max: 12, names: monthNames, nameBase: 1}
	fieldWeekday = cronField{name: "day of week", min: 0, max: 7, names: weekdayNames}
)

// parseCron parses a cron expression of five or six fields, or an alias such as "@daily".
func parseCron(expr string) (*cronSchedule, error) {
	if alias, ok := cronAliases[expr]; ok {
		expr = alias
	}
	atoms := strings.Fields(expr)
	if len(atoms) < 5 || len(atoms) > 6 {
		return nil, fmt.Errorf("bullmq: invalid cron expression %q: want 5 or 6 fields", expr)
	}
	if len(atoms) == 5 {
		atoms = append([]string{"0"}, atoms...)
	}

	c := &cronSchedule{}
	var err error
	plain := []struct {
		dst   *uint64
		text  string
		field cronField
	}{
		{&c.seconds, atoms[0], fieldSecond},
		{&c.minutes, atoms[1], fieldMinute},
		{&c.hours, atoms[2], fieldHour},
		{&c.months, atoms[4], fieldMonth},
	}
	for _, p := range plain {
		if *p.dst, _, err = parseCronField(p.text, p.field, false); err != nil {
			return nil, fmt.Errorf("bullmq: invalid cron expression %q: %w", expr, err)
		}
	}

	if err := c.parseDays(atoms[3], atoms[5]); err != nil {
		return nil, fmt.Errorf("bullmq: invalid cron expression %q: %w", expr, err)
	}
	return c, nil
}

// parseDays parses the day-of-month and day-of-week fields with their extensions.
func (c *cronSchedule) parseDays(day, weekday string) error {
	c.dayWildcard = day == "*" || day == "?"
	c.weekdayWildcard = weekday == "*" || weekday == "?"

	var lasts []int
	var err error
	c.days, lasts, err = parseCronField(day, fieldDay, true)
	if err != nil {
		return err
	}
	c.lastDay = len(lasts) > 0

	if base, nth, ok := strings.Cut(weekday, "#"); ok {
		if strings.ContainsAny(base, ",-/") {
			return fmt.Errorf("day of week %q: '#' cannot be combined with ',', '-' or '/'",
				weekday)
		}
		n, err := strconv.Atoi(nth)
		if err != nil || n < 1 || n > 5 {
			return fmt.Errorf("day of week %q: the occurrence after '#' must be 1 to 5",
				weekday)
		}
		c.nthWeekday = n
		weekday = base
	}

	c.weekdays, lasts, err = parseCronField(weekday, fieldWeekday, true)
	if err != nil {
		return err
	}
	for _, d := range lasts {
		c.lastWeekdays |= 1 << (d % 7)
	}
	c.weekdays = foldSunday(c.weekdays)
	return nil
}

// foldSunday maps weekday 7 to 0.
func foldSunday(set uint64) uint64 {
	if set&(1<<7) != 0 {
		set = set&^(1<<7) | 1
	}
	return set
}

// parseCronField parses a comma-separated list of values, ranges and steps. With allowLast,
// the value "L" (day of month) or "<n>L" (day of week) is accepted and returned in lasts:
// 0 for "L", n for "<n>L".
func parseCronField(text string, f cronField, allowLast bool) (set uint64, lasts []int,
	err error) {
	text = replaceCronNames(text, f)
	if text == "" {
		return 0, nil, fmt.Errorf("%s field is empty", f.name)
	}

	for _, atom := range strings.Split(text, ",") {
		if atom == "" {
			return 0, nil, fmt.Errorf("%s %q: empty list item", f.name, text)
		}
		if allowLast && strings.HasSuffix(atom, "L") {
			n, err := parseLast(atom, f)
			if err != nil {
				return 0, nil, err
			}
			lasts = append(lasts, n)
			continue
		}
		bitsOf, err := parseCronAtom(atom, f)
		if err != nil {
			return 0, nil, err
		}
		set |= bitsOf
	}
	return set, lasts, nil
}

// parseLast parses "L" in the day-of-month field or "<weekday>L" in the day-of-week field.
func parseLast(atom string, f cronField) (int, error) {
	if f.name == fieldDay.name {
		if atom != "L" {
			return 0, fmt.Errorf("%s %q: only a plain L is supported", f.name, atom)
		}
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSuffix(atom, "L"))
	if err != nil || n < f.min || n > f.max {
		return 0, fmt.Errorf("%s %q: want <weekday>L with a weekday from 0 to 7", f.name, atom)
	}
	return n, nil
}

// parseCronAtom parses "*", "n", "a-b", or any of them followed by "/step". As in
// cron-parser, "n/step" runs from n to the field maximum.
func parseCronAtom(atom string, f cronField) (uint64, error) {
	rangePart, stepPart, hasStep := strings.Cut(atom, "/")
	step := 1
	if hasStep {
		var err error
		step, err = strconv.Atoi(stepPart)
		if err != nil || step <= 0 {
			return 0, fmt.Errorf("%s %q: step must be a positive integer", f.name, atom)
		}
	}

	lo, hi := f.min, f.max
	switch {
	case rangePart == "*" || rangePart == "?":
	case strings.Contains(rangePart, "-"):
		a, b, _ := strings.Cut(rangePart, "-")
		var err1, err2 error
		lo, err1 = strconv.Atoi(a)
		hi, err2 = strconv.Atoi(b)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("%s %q: invalid range", f.name, atom)
		}
	default:
		n, err := strconv.Atoi(rangePart)
		if err != nil {
			return 0, fmt.Errorf("%s %q: invalid value", f.name, atom)
		}
		lo = n
		if !hasStep {
			hi = n
		}
	}
	if lo < f.min || hi > f.max {
		return 0, fmt.Errorf("%s %q: values must be between %d and %d", f.name, atom,
			f.min, f.max)
	}
	if lo > hi {
		return 0, fmt.Errorf("%s %q: range start is after its end", f.name, atom)
	}

	var set uint64
	for v := lo; v <= hi; v += step {
		set |= 1 << v
	}
	return set, nil
}

// replaceCronNames replaces three-letter month or weekday names, in any case, by numbers.
func replaceCronNames(text string, f cronField) string {
	if len(f.names) == 0 {
		return text
	}
	lower := strings.ToLower(text)
	for i, name := range f.names {
		lower = strings.ReplaceAll(lower, name, strconv.Itoa(f.nameBase+i))
	}
	return strings.ToUpper(lower) // keeps "L" recognizable
}

// cronSearchYears bounds the search for the next fire time, so an expression that never
// matches (such as February 30) ends the search.
const cronSearchYears = 8

// next returns the first fire time strictly after the given instant, evaluated in loc, at
// whole-second resolution. The daylight saving rules follow cron-parser 5.x. A local time
// that a change skips fires at the same minute and second of the hour after the gap. A
// local time that occurs twice fires at its first occurrence only, unless the hour field
// allows every hour: then it fires at both.
func (c *cronSchedule) next(after time.Time, loc *time.Location) (time.Time, bool) {
	local := after.In(loc)
	y, m, d := local.Date()
	limit := time.Date(y+cronSearchYears, m, d, 0, 0, 0, 0, loc)

	for day := time.Date(y, m, d, 12, 0, 0, 0, loc); day.Before(limit); day = day.AddDate(0,
		0, 1) {
		if !c.matchesDay(day) {
			continue
		}
		if t, ok := c.nextInDay(day, after, loc); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// nextInDay returns the first fire time of that local day strictly after the given instant.
func (c *cronSchedule) nextInDay(day, after time.Time, loc *time.Location) (time.Time, bool) {
	y, m, d := day.Date()
	allHours := c.hours == 1<<24-1
	for h := range bitValues(c.hours) {
		if first, second := resolveLocal(y, m, d, h, 59, 59, loc); !first.After(after) &&
			!(allHours && second.After(after)) {
			continue
		}
		best := c.firstInHour(y, m, d, h, after, loc, false)
		if allHours {
			// cron-parser fires in both runs of an hour that clocks repeat only when the
			// hour field allows every hour.
			if t := c.firstInHour(y, m, d, h, after, loc, true); !t.IsZero() &&
				(best.IsZero() || t.Before(best)) {
				best = t
			}
		}
		if !best.IsZero() {
			return best, true
		}
	}
	return time.Time{}, false
}

// firstInHour returns the earliest fire time in the local hour h strictly after the given
// instant, or the zero time. With repeated it looks only at the second run of a repeated
// hour.
func (c *cronSchedule) firstInHour(y int, m time.Month, d, h int, after time.Time,
	loc *time.Location, repeated bool) time.Time {
	pick := func(mi, s int) time.Time {
		first, second := resolveLocal(y, m, d, h, mi, s, loc)
		if repeated {
			return second
		}
		return first
	}
	for mi := range bitValues(c.minutes) {
		if !pick(mi, 59).After(after) {
			continue
		}
		for s := range bitValues(c.seconds) {
			if t := pick(mi, s); t.After(after) {
				return t
			}
		}
	}
	return time.Time{}
}

// matchesDay applies the month, day-of-month and day-of-week fields to a local date.
func (c *cronSchedule) matchesDay(day time.Time) bool {
	if c.months&(1<<int(day.Month())) == 0 {
		return false
	}

	lastOfMonth := day.AddDate(0, 0, 1).Month() != day.Month()
	dayMatch := c.days&(1<<day.Day()) != 0 || (c.lastDay && lastOfMonth)

	weekday := int(day.Weekday())
	nthOK := c.nthWeekday == 0 || (day.Day()+6)/7 == c.nthWeekday
	lastWeekOfMonth := day.AddDate(0, 0, 7).Month() != day.Month()
	weekdayMatch := (c.weekdays&(1<<weekday) != 0 && nthOK) ||
		(c.lastWeekdays&(1<<weekday) != 0 && lastWeekOfMonth)

	switch {
	case !c.dayWildcard && !c.weekdayWildcard:
		return dayMatch || weekdayMatch
	case !c.weekdayWildcard:
		return weekdayMatch
	default:
		return dayMatch
	}
}

// bitValues yields the set bits of set in ascending order.
func bitValues(set uint64) func(func(int) bool) {
	return func(yield func(int) bool) {
		for set != 0 {
			v := bits.TrailingZeros64(set)
			if !yield(v) {
				return
			}
			set &^= 1 << v
		}
	}
}

// resolveLocal returns the instant of a local wall time. A wall time that occurs twice (the
// hour repeated when clocks go back) returns both instants, else second is the zero time.
// One that does not exist (the hour skipped when clocks go forward) resolves with the
// offset in force before the change, which lands the same distance into the hour after
// the gap. time.Date leaves both cases unspecified, so this checks the offsets around the
// time itself.
func resolveLocal(y int, m time.Month, d, h, mi, s int, loc *time.Location) (first,
	second time.Time) {
	wall := time.Date(y, m, d, h, mi, s, 0, time.UTC).Unix()
	guess := time.Date(y, m, d, h, mi, s, 0, loc)

	for _, probe := range []time.Time{guess.Add(-3 * time.Hour), guess,
		guess.Add(3 * time.Hour)} {
		_, offset := probe.Zone()
		t := time.Unix(wall-int64(offset), 0).In(loc)
		if t.Hour() != h || t.Minute() != mi || t.Second() != s || t.Day() != d {
			continue
		}
		switch {
		case first.IsZero() || t.Equal(first):
			first = t
		case t.Before(first):
			first, second = t, first
		case second.IsZero() || t.Before(second):
			second = t
		}
	}
	if !first.IsZero() {
		return first, second
	}

	_, before := guess.Add(-3 * time.Hour).Zone()
	return time.Unix(wall-int64(before), 0).In(loc), time.Time{}
}
