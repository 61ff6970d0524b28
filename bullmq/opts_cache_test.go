package bullmq

import (
	"reflect"
	"testing"
)

const cachedOptsJSON = `{"attempts":3,"backoff":{"type":"exponential","delay":1000},` +
	`"removeOnComplete":10,"removeOnFail":true,"parent":{"id":"p1","queue":"bull:q"},` +
	`"de":{"id":"d1","ttl":5000},"custom":{"a":1}}`

func TestOptsCache_MatchesParse(t *testing.T) {
	t.Parallel()

	want, err := parseStoredOpts(cachedOptsJSON)
	if err != nil {
		t.Fatalf("parseStoredOpts: %v", err)
	}
	cache := newOptsCache()
	for i := range 2 {
		got, err := cache.parse(cachedOptsJSON)
		if err != nil {
			t.Fatalf("parse %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parse %d = %+v, want %+v", i, got, want)
		}
	}
}

func TestOptsCache_CopiesAreIndependent(t *testing.T) {
	t.Parallel()

	cache := newOptsCache()
	first, err := cache.parse(cachedOptsJSON)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	first.Backoff.Delay = 0
	first.Parent.ID = "changed"
	first.Deduplication.ID = "changed"
	delete(first.Extra, "custom")

	second, err := cache.parse(cachedOptsJSON)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if second.Backoff.Delay == 0 {
		t.Error("Backoff shared between copies")
	}
	if second.Parent.ID != "p1" {
		t.Errorf("Parent.ID = %q, want p1", second.Parent.ID)
	}
	if second.Deduplication.ID != "d1" {
		t.Errorf("Deduplication.ID = %q, want d1", second.Deduplication.ID)
	}
	if _, ok := second.Extra["custom"]; !ok {
		t.Error("Extra shared between copies")
	}
}

func TestOptsCache_RejectsInvalid(t *testing.T) {
	t.Parallel()

	cache := newOptsCache()
	if _, err := cache.parse("{not json"); err == nil {
		t.Error("parse of invalid opts returned no error")
	}
	if n := len(cache.entries); n != 0 {
		t.Errorf("cache has %d entries after invalid opts, want 0", n)
	}
}
