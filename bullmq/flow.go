package bullmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

var releaseParentScript = loadScript("release_parent")

// FlowProducerOpts configures a FlowProducer.
type FlowProducerOpts struct {
	// Prefix is the first part of every key, shared by all queues of a flow. On Redis
	// Cluster it must carry a hash tag, such as "{bull}", so a flow's keys share one slot.
	// Default "bull".
	Prefix string
	// PauseCompat selects where a released parent goes while its queue is paused 5.x style.
	// Default PauseAuto.
	PauseCompat PauseCompat
	// Logger receives the producer's logs. Default: logs are discarded.
	Logger *slog.Logger
}

// FlowJob is one node of a flow: a job and the children that must finish before it runs.
type FlowJob struct {
	Name      string
	QueueName string
	Data      any
	// Opts of the job. Without JobID the job gets a random UUID as its id, as in Node.
	// Opts.Parent of the root attaches the whole flow to an existing parent job.
	Opts     JobOpts
	Children []FlowJob
}

// JobNode is an added flow node: its job, with ID set, and its children.
type JobNode struct {
	Job      *Job
	Children []*JobNode
}

// FlowProducer adds trees of jobs across queues, as Node bullmq's FlowProducer does.
type FlowProducer struct {
	client redis.UniversalClient
	opts   FlowProducerOpts
	logger *slog.Logger
}

// NewFlowProducer returns a FlowProducer. The client is shared and never closed by it.
func NewFlowProducer(client redis.UniversalClient, opts FlowProducerOpts) *FlowProducer {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &FlowProducer{client: client, opts: opts,
		logger: logger.With(slog.String("component", "flow_producer"))}
}

// flowEntry is one add of a flow, in the order they run.
type flowEntry struct {
	req *addRequest
	// parent is the full key of the job's parent, "" for a root without parent.
	parent    string
	parentRef *ParentRef
}

// Add adds the tree in one MULTI transaction: each parent first, in waiting-children, then
// its children with their parent keys, depth first. A parent moves to wait (or delayed or
// prioritized, by its own options) when its last child completes. Every node may name a
// different queue; all share the producer's prefix.
//
// Redis runs every add of the transaction even when one of them is rejected, such as a
// custom child id that belongs to another parent (code -7); Add then returns the first
// rejection and the jobs that were added stay.
func (f *FlowProducer) Add(ctx context.Context, flow FlowJob) (*JobNode, error) {
	var entries []flowEntry
	root, err := f.collect(flow, flow.Opts.Parent, &entries)
	if err != nil {
		return nil, err
	}

	if err := addJobScript.Load(ctx, f.client).Err(); err != nil {
		return nil, fmt.Errorf("bullmq: load add script: %w", err)
	}
	if err := releaseParentScript.Load(ctx, f.client).Err(); err != nil {
		return nil, fmt.Errorf("bullmq: load release script: %w", err)
	}

	cmds := make([]*redis.Cmd, len(entries))
	_, err = f.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, e := range entries {
			cmds[i] = addJobScript.EvalSha(ctx, pipe, e.req.keys, e.req.args...)
		}
		f.queueReleases(ctx, pipe, entries)
		return nil
	})
	if err != nil && allFailed(cmds) {
		return nil, fmt.Errorf("bullmq: add flow %q: %w", flow.Name, err)
	}

	for i, e := range entries {
		if _, err := e.req.finish(cmds[i]); err != nil {
			return nil, fmt.Errorf("bullmq: add flow %q: %w", flow.Name, err)
		}
	}
	f.logger.DebugContext(ctx, "Flow added", slog.String("job_id", root.Job.ID),
		slog.String("queue", flow.QueueName), slog.Int("jobs", len(entries)))
	return root, nil
}

// queueReleases adds one release step per parent of the flow, after all adds.
func (f *FlowProducer) queueReleases(ctx context.Context, pipe redis.Pipeliner,
	entries []flowEntry) {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	seen := map[string]bool{}
	for _, e := range entries {
		if e.parent == "" || seen[e.parent] {
			continue
		}
		seen[e.parent] = true
		releaseParentScript.EvalSha(ctx, pipe,
			[]string{e.parent, e.parent + ":dependencies"},
			e.parentRef.Queue, e.parentRef.ID, now, f.opts.PauseCompat.luaArg())
	}
}

// collect validates node and appends its add, then its children's, to entries.
func (f *FlowProducer) collect(node FlowJob, parent *ParentRef,
	entries *[]flowEntry) (*JobNode, error) {
	if err := validateQueueName(node.QueueName); err != nil {
		return nil, err
	}
	if node.Opts.Deduplication != nil && len(node.Children) > 0 {
		return nil, fmt.Errorf("bullmq: flow job %q: deduplication is not allowed on a job "+
			"with children", node.Name)
	}

	q := NewQueue(f.client, node.QueueName, QueueOpts{Prefix: f.opts.Prefix,
		PauseCompat: f.opts.PauseCompat, SkipMetaUpdate: true, Logger: f.logger})
	opts := node.Opts
	opts.Parent = parent
	id := opts.JobID
	if id == "" {
		id = uuid.NewString()
	}

	req, err := q.newAddRequest(node.Name, node.Data, opts, time.Now())
	if err != nil {
		return nil, fmt.Errorf("bullmq: flow job %q: %w", node.Name, err)
	}
	if err := req.toFlowAdd(id, len(node.Children) > 0, q.keys.waitingChildren()); err != nil {
		return nil, err
	}

	entry := flowEntry{req: req, parentRef: parent}
	if parent != nil {
		entry.parent = parent.Queue + ":" + parent.ID
	}
	*entries = append(*entries, entry)

	jobNode := &JobNode{Job: req.job}
	req.job.ID = id
	childParent := &ParentRef{ID: id, Queue: q.Key()}
	for _, child := range node.Children {
		c, err := f.collect(child, childParent, entries)
		if err != nil {
			return nil, err
		}
		jobNode.Children = append(jobNode.Children, c)
	}
	return jobNode, nil
}

// toFlowAdd turns a plain add into a flow add: the id is set (a random UUID is not stored
// in opts, as in Node), the parent release is deferred, and a parent goes to
// waiting-children.
func (r *addRequest) toFlowAdd(id string, hasChildren bool, waitingChildrenKey string) error {
	var control addControl
	if err := json.Unmarshal([]byte(r.args[6].(string)), &control); err != nil {
		return fmt.Errorf("bullmq: decode add arguments: %w", err)
	}
	control.DeferRelease = true
	if hasChildren {
		control.WaitingChildren = true
		r.keys = append(r.keys, waitingChildrenKey)
		control.Keys["wc"] = len(r.keys)
	}
	b, err := json.Marshal(control)
	if err != nil {
		return fmt.Errorf("bullmq: encode add arguments: %w", err)
	}

	r.args[1] = id
	r.args[6] = string(b)
	r.customID = id
	return nil
}

// ErrWaitingChildren is the error a processor returns after it moved its job to
// waiting-children with Job.MoveToWaitingChildren. The worker then neither completes nor
// fails the job, as with Node's WaitingChildrenError.
var ErrWaitingChildren = errors.New("bullmq: job moved to waiting-children")
