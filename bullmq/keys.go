package bullmq

import (
	"fmt"
	"strings"
)

// DefaultPrefix is the key prefix Node BullMQ uses when none is configured.
const DefaultPrefix = "bull"

// queueKeys builds the Redis keys of one queue: "<prefix>:<queue>:<suffix>".
type queueKeys struct {
	base string // "<prefix>:<queue>"
}

func newQueueKeys(prefix, name string) queueKeys {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return queueKeys{base: prefix + ":" + name}
}

func (k queueKeys) key(suffix string) string { return k.base + ":" + suffix }

func (k queueKeys) job(id string) string { return k.base + ":" + id }

func (k queueKeys) wait() string            { return k.key("wait") }
func (k queueKeys) paused() string          { return k.key("paused") }
func (k queueKeys) active() string          { return k.key("active") }
func (k queueKeys) prioritized() string     { return k.key("prioritized") }
func (k queueKeys) delayed() string         { return k.key("delayed") }
func (k queueKeys) waitingChildren() string { return k.key("waiting-children") }
func (k queueKeys) completed() string       { return k.key("completed") }
func (k queueKeys) failed() string          { return k.key("failed") }
func (k queueKeys) stalled() string         { return k.key("stalled") }
func (k queueKeys) stalledCheck() string    { return k.key("stalled-check") }
func (k queueKeys) limiter() string         { return k.key("limiter") }
func (k queueKeys) meta() string            { return k.key("meta") }
func (k queueKeys) events() string          { return k.key("events") }
func (k queueKeys) marker() string          { return k.key("marker") }
func (k queueKeys) id() string              { return k.key("id") }
func (k queueKeys) pc() string              { return k.key("pc") }
func (k queueKeys) repeat() string          { return k.key("repeat") }

// reservedSuffixes are the queue-level key suffixes a custom job id must not equal, because
// the job hash would collide with a queue key.
var reservedSuffixes = map[string]bool{
	"id": true, "wait": true, "paused": true, "active": true, "prioritized": true,
	"pc": true, "delayed": true, "waiting-children": true, "completed": true,
	"failed": true, "stalled": true, "stalled-check": true, "limiter": true, "meta": true,
	"events": true, "marker": true, "metrics": true, "repeat": true, "delay": true,
	"priority": true,
}

// validateQueueName rejects names Node BullMQ rejects.
func validateQueueName(name string) error {
	if name == "" {
		return fmt.Errorf("bullmq: queue name is empty")
	}
	if strings.Contains(name, ":") {
		return fmt.Errorf("bullmq: queue name %q must not contain ':'", name)
	}
	return nil
}
