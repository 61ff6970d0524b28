// Package redisdump reads every key under a prefix into a normalized Snapshot, so tests can
// check that a Go worker and a Node worker leave the same data in Redis.
//
// A typical interop test runs the same scenario twice, once with the Node peer and once with
// the Go code, each under its own prefix and queue name, then compares:
//
//	a, err := redisdump.Dump(ctx, client, prefixA, &redisdump.Opts{
//		Replace: map[string]string{queueA: "<Q>"},
//	})
//	...
//	if diff := redisdump.Diff(a, b); diff != "" {
//		t.Errorf("Redis contents differ (-node +go):\n%s", diff)
//	}
//
// # What is read
//
// Dump lists the keys matching <prefix>:* with SCAN (on every master of a cluster client)
// and reads each key by its type: GET for strings, HGETALL for hashes, LRANGE for lists,
// SMEMBERS for sets, ZRANGE WITHSCORES for sorted sets and XRANGE for streams. A key that
// disappears between SCAN and the read (an expired lock, for example) is left out. Stream
// consumer groups and the stream's last id are not read.
//
// # Normalization rules
//
// Each rule can be turned off through a Keep… field of Opts. They apply in this order.
//
//  1. Prefix and replacements. Every occurrence of the prefix becomes <P>, in key names,
//     hash field names, members and values (also inside JSON strings). Then every key of
//     Opts.Replace is replaced by its value, longest key first, for example the queue name
//     by <Q>.
//  2. JSON. A value that starts with '{' or '[' and parses as JSON is encoded again with
//     object keys sorted at every level, no insignificant space and no HTML escaping, so
//     {"b":1,"a":"x\/y"} becomes {"a":"x/y","b":1}. The strings, object keys and numbers
//     inside it go through rules 3 to 6, and a number that is a timestamp (rule 6) becomes
//     the JSON string "<ts>". Values that do not parse stay text.
//  3. Stack traces. The elements of a JSON array stored in a hash field named in
//     Opts.StackFields (default "stacktrace") each become "<stack>", so only the number of
//     stack traces is compared, because Go and Node format stacks differently.
//  4. Lock tokens. A whole value of the form <uuid>:<n>, which is how BullMQ workers build
//     lock tokens, becomes <token>.
//  5. UUIDs. Every other UUID (8-4-4-4-12 hex digits) becomes <uuid>, for example the random
//     ids of flow children and the UUID part of worker names.
//  6. Timestamps. Every run of exactly 13 digits whose value lies between
//     Opts.TimestampMin and Opts.TimestampMax (default 2010-01-01 to 2100-01-01 UTC) as Unix
//     milliseconds becomes <ts>, in whole values and inside longer strings such as the key
//     of a job scheduler iteration, repeat:<id>:<ms>.
//  7. Sorted set scores. A score between those bounds (ms, as in completed, failed and the
//     marker's "1" member) becomes <ts#i>, and a score between the bounds times 4096 (plus up
//     to 4095, as BullMQ scores delayed jobs) becomes <ts*4096#i>. The index i counts the
//     normalized scores of that key in score order from 0, so the order of members and the
//     kind of score stay comparable. Scores of keys whose last ':' segment is in
//     Opts.RawScoreKeys (default "prioritized", because priority × 2^32 + counter can fall
//     in the same ranges) and scores outside both ranges are kept exactly.
//  8. Stream entry ids become #0, #1, ... in stream order. Field order inside an entry is
//     kept.
//  9. TTLs. Only whether a key had a TTL (PTTL > 0) is recorded, never its length. With
//     Opts.IgnoreTTL, even that is dropped.
//
// Hash fields and set members are sorted, because Redis does not define their order. Lists,
// sorted sets and streams keep Redis order. After normalization two keys can have the same
// name (two scheduler iterations, say); both are kept.
package redisdump
