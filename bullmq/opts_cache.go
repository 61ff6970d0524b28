package bullmq

import (
	"maps"
	"sync"
)

// maxCachedOpts bounds an optsCache. A full cache is emptied and refilled.
const maxCachedOpts = 256

// optsCache decodes stored job options once per distinct opts string. Jobs added with the
// same options store the same string, so a worker that fetches many of them skips the
// JSON decoding after the first. Each caller gets its own copy, safe to modify.
type optsCache struct {
	mu      sync.Mutex
	entries map[string]JobOpts
}

func newOptsCache() *optsCache {
	return &optsCache{entries: make(map[string]JobOpts)}
}

// parse returns the decoded options of raw, as parseStoredOpts does. Invalid options are
// not cached.
func (c *optsCache) parse(raw string) (JobOpts, error) {
	c.mu.Lock()
	opts, ok := c.entries[raw]
	c.mu.Unlock()
	if ok {
		return opts.clone(), nil
	}

	opts, err := parseStoredOpts(raw)
	if err != nil {
		return opts, err
	}

	c.mu.Lock()
	if len(c.entries) >= maxCachedOpts {
		clear(c.entries)
	}
	c.entries[raw] = opts
	c.mu.Unlock()
	return opts.clone(), nil
}

// clone returns a copy of o that shares no pointer or map with it. The json.RawMessage
// values of Extra still share their bytes.
func (o JobOpts) clone() JobOpts {
	c := o
	if o.Backoff != nil {
		b := *o.Backoff
		c.Backoff = &b
	}
	if o.RemoveOnComplete != nil {
		r := *o.RemoveOnComplete
		c.RemoveOnComplete = &r
	}
	if o.RemoveOnFail != nil {
		r := *o.RemoveOnFail
		c.RemoveOnFail = &r
	}
	if o.Deduplication != nil {
		d := *o.Deduplication
		c.Deduplication = &d
	}
	if o.Parent != nil {
		p := *o.Parent
		c.Parent = &p
	}
	c.Extra = maps.Clone(o.Extra)
	return c
}
