package redisdump

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/internal/redistest"
)

// Snapshot is the normalized content of every key under a prefix, sorted by key name.
type Snapshot struct {
	Keys []Key
}

// Key is one normalized Redis key. Exactly one of the content fields is set, by Type.
type Key struct {
	// Name is the normalized key name, such as <P>:<Q>:1.
	Name string

	// Type is the Redis type: string, hash, list, set, zset or stream.
	Type string

	// HasTTL records whether the key had a TTL (PTTL > 0). It is always false when
	// Opts.IgnoreTTL is set.
	HasTTL bool

	// Value is the content of a string key.
	Value string

	// Fields are the fields of a hash, sorted by name.
	Fields []Field

	// Items are the elements of a list in order, or the members of a set sorted.
	Items []string

	// Members are the members of a sorted set in score order.
	Members []Member

	// Entries are the entries of a stream in order.
	Entries []Entry
}

// Field is a name and value pair of a hash or of a stream entry.
type Field struct {
	Name  string
	Value string
}

// Member is a sorted set member with its normalized score.
type Member struct {
	Member string
	Score  string
}

// Entry is a stream entry with its normalized id and its fields in stored order.
type Entry struct {
	ID     string
	Fields []Field
}

// Get returns the first key with this normalized name.
func (s Snapshot) Get(name string) (Key, bool) {
	for _, k := range s.Keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

// Field returns the value of the named hash field.
func (k Key) Field(name string) (string, bool) {
	for _, f := range k.Fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

// Dump reads every key matching <prefix>:* and normalizes it as the package documentation
// describes. opts may be nil for the defaults. The prefix must not be empty.
func Dump(
	ctx context.Context,
	client redis.UniversalClient,
	prefix string,
	opts *Opts,
) (Snapshot, error) {
	if prefix == "" {
		return Snapshot{}, errors.New("empty prefix: Dump reads only keys under a prefix")
	}

	names, err := scanKeys(ctx, client, redistest.EscapePattern(prefix)+":*")
	if err != nil {
		return Snapshot{}, err
	}

	norm := newNormalizer(prefix, opts)
	keys := make([]Key, 0, len(names))
	for _, name := range names {
		key, found, err := readKey(ctx, client, norm, name)
		if err != nil {
			return Snapshot{}, fmt.Errorf("reading key %s: %w", name, err)
		}
		if found {
			keys = append(keys, key)
		}
	}

	// Names can collide after normalization, so the rendered body breaks ties.
	slices.SortStableFunc(keys, func(a, b Key) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.body(), b.body()))
	})
	return Snapshot{Keys: keys}, nil
}

// MustDump is Dump with a 30 second timeout that fails the test on error.
func MustDump(t testing.TB, client redis.UniversalClient, prefix string, opts *Opts) Snapshot {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	snapshot, err := Dump(ctx, client, prefix, opts)
	if err != nil {
		t.Fatalf("redisdump: dumping prefix %s: %v", prefix, err)
	}
	return snapshot
}

func scanKeys(
	ctx context.Context,
	client redis.UniversalClient,
	pattern string,
) ([]string, error) {
	cluster, ok := client.(*redis.ClusterClient)
	if !ok {
		return scanNode(ctx, client, pattern)
	}

	var (
		mu    sync.Mutex
		names []string
	)
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		found, err := scanNode(ctx, node, pattern)

		mu.Lock()
		names = append(names, found...)
		mu.Unlock()

		return err
	})
	return names, err
}

func scanNode(ctx context.Context, client redis.Cmdable, pattern string) ([]string, error) {
	var names []string

	iter := client.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		names = append(names, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("scan %q: %w", pattern, err)
	}

	// SCAN may return a key more than once.
	slices.Sort(names)
	return slices.Compact(names), nil
}

// readKey reads and normalizes one key, and reports false when the key no longer exists.
func readKey(
	ctx context.Context,
	client redis.UniversalClient,
	norm *normalizer,
	name string,
) (Key, bool, error) {
	var (
		typeCmd *redis.StatusCmd
		pttlCmd *redis.DurationCmd
	)
	_, err := client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		typeCmd = pipe.Type(ctx, name)
		pttlCmd = pipe.PTTL(ctx, name)
		return nil
	})
	if err != nil {
		return Key{}, false, fmt.Errorf("type and pttl: %w", err)
	}

	key := Key{
		Name:   norm.text(name),
		Type:   typeCmd.Val(),
		HasTTL: !norm.opts.IgnoreTTL && pttlCmd.Val() > 0,
	}

	found, err := readContent(ctx, client, norm, name, &key)
	return key, found, err
}

func readContent(
	ctx context.Context,
	client redis.UniversalClient,
	norm *normalizer,
	name string,
	key *Key,
) (bool, error) {
	switch key.Type {
	case "none":
		return false, nil
	case "string":
		return readString(ctx, client, norm, name, key)
	case "hash":
		return readHash(ctx, client, norm, name, key)
	case "list":
		return readList(ctx, client, norm, name, key)
	case "set":
		return readSet(ctx, client, norm, name, key)
	case "zset":
		return readZSet(ctx, client, norm, name, key)
	case "stream":
		return readStream(ctx, client, norm, name, key)
	default:
		return false, fmt.Errorf("unsupported key type %q", key.Type)
	}
}

func readString(
	ctx context.Context,
	client redis.UniversalClient,
	norm *normalizer,
	name string,
	key *Key,
) (bool, error) {
	value, err := client.Get(ctx, name).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get: %w", err)
	}

	key.Value = norm.value("", value)
	return true, nil
}

func readHash(
	ctx context.Context,
	client redis.UniversalClient,
	norm *normalizer,
	name string,
	key *Key,
) (bool, error) {
	fields, err := client.HGetAll(ctx, name).Result()
	if err != nil {
		return false, fmt.Errorf("hgetall: %w", err)
	}

	for field, value := range fields {
		key.Fields = append(key.Fields, Field{
			Name:  norm.text(field),
			Value: norm.value(field, value),
		})
	}
	slices.SortFunc(key.Fields, func(a, b Field) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Value, b.Value))
	})
	return len(fields) > 0, nil
}

func readList(
	ctx context.Context,
	client redis.UniversalClient,
	norm *normalizer,
	name string,
	key *Key,
) (bool, error) {
	items, err := client.LRange(ctx, name, 0, -1).Result()
	if err != nil {
		return false, fmt.Errorf("lrange: %w", err)
	}

	for _, item := range items {
		key.Items = append(key.Items, norm.value("", item))
	}
	return len(items) > 0, nil
}

func readSet(
	ctx context.Context,
	client redis.UniversalClient,
	norm *normalizer,
	name string,
	key *Key,
) (bool, error) {
	members, err := client.SMembers(ctx, name).Result()
	if err != nil {
		return false, fmt.Errorf("smembers: %w", err)
	}

	for _, member := range members {
		key.Items = append(key.Items, norm.value("", member))
	}
	slices.Sort(key.Items)
	return len(members) > 0, nil
}

func readZSet(
	ctx context.Context,
	client redis.UniversalClient,
	norm *normalizer,
	name string,
	key *Key,
) (bool, error) {
	members, err := client.ZRangeWithScores(ctx, name, 0, -1).Result()
	if err != nil {
		return false, fmt.Errorf("zrange: %w", err)
	}

	scores := make([]float64, len(members))
	for i, m := range members {
		scores[i] = m.Score
	}
	normalized := norm.scores(key.Name, scores)

	for i, m := range members {
		member := fmt.Sprint(m.Member)
		key.Members = append(key.Members, Member{Member: norm.text(member), Score: normalized[i]})
	}
	return len(members) > 0, nil
}

func readStream(
	ctx context.Context,
	client redis.UniversalClient,
	norm *normalizer,
	name string,
	key *Key,
) (bool, error) {
	// XRangeResult decodes fields into a map, which loses their order, so parse the raw
	// reply: an array of [id, [field, value, ...]] pairs.
	reply, err := client.Do(ctx, "XRANGE", name, "-", "+").Slice()
	if err != nil {
		return false, fmt.Errorf("xrange: %w", err)
	}

	for i, raw := range reply {
		entry, err := parseStreamEntry(raw)
		if err != nil {
			return false, fmt.Errorf("xrange entry %d: %w", i, err)
		}

		if !norm.opts.KeepStreamIDs {
			entry.ID = fmt.Sprintf("#%d", i)
		}
		for j := range entry.Fields {
			field := &entry.Fields[j]
			field.Value = norm.value(field.Name, field.Value)
			field.Name = norm.text(field.Name)
		}
		key.Entries = append(key.Entries, entry)
	}
	return true, nil
}

func parseStreamEntry(raw any) (Entry, error) {
	pair, ok := raw.([]any)
	if !ok || len(pair) != 2 {
		return Entry{}, fmt.Errorf("want [id, fields], got %T %v", raw, raw)
	}

	id, ok := pair[0].(string)
	if !ok {
		return Entry{}, fmt.Errorf("want a string id, got %T", pair[0])
	}

	flat, ok := pair[1].([]any)
	if !ok || len(flat)%2 != 0 {
		return Entry{}, fmt.Errorf("want a flat field list, got %T %v", pair[1], pair[1])
	}

	entry := Entry{ID: id}
	for i := 0; i < len(flat); i += 2 {
		entry.Fields = append(entry.Fields, Field{
			Name:  fmt.Sprint(flat[i]),
			Value: fmt.Sprint(flat[i+1]),
		})
	}
	return entry, nil
}
