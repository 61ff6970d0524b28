package schedules

import (
	"context"
	"sort"
	"testing"

	"github.com/portnimara/nimara/bullmq"
	"github.com/portnimara/nimara/internal/nodepeer"
	"github.com/portnimara/nimara/internal/redistest"
)

// Node's Queue.getJobSchedulers must list what Sync stored, with the same repeat options.
func TestSyncReadByNode(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t)
	q := bullmq.NewQueue(rdb, "maintenance", bullmq.QueueOpts{Prefix: prefix})
	if err := Sync(ctx, map[string]*bullmq.Queue{"maintenance": q}); err != nil {
		t.Fatalf("Sync: %v", err)
	}

	peer := nodepeer.Start(t, 6)
	type nodeScheduler struct {
		Key     string `json:"key"`
		Name    string `json:"name"`
		Every   int64  `json:"every"`
		Pattern string `json:"pattern"`
		TZ      string `json:"tz"`
	}
	got := nodepeer.MustEvalAs[[]nodeScheduler](t, peer, `
		const q = new bullmq.Queue('maintenance', { connection: redisOpts, prefix: args.prefix });
		const list = await q.getJobSchedulers(0, -1, true);
		await q.close();
		return list.map((s) => ({ key: s.key, name: s.name, every: Number(s.every || 0),
			pattern: s.pattern || '', tz: s.tz || '' }));
	`, map[string]string{"prefix": prefix})

	var want []nodeScheduler
	for _, s := range All {
		if s.Queue == "maintenance" {
			want = append(want, nodeScheduler{Key: s.Name, Name: s.Name,
				Every: s.Every.Milliseconds(), Pattern: s.Pattern, TZ: s.TZ})
		}
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Key < got[j].Key })
	sort.Slice(want, func(i, j int) bool { return want[i].Key < want[j].Key })

	if len(got) != len(want) {
		t.Fatalf("Node lists %d schedulers, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("scheduler %d: Node reads %+v, want %+v", i, got[i], want[i])
		}
	}
}
