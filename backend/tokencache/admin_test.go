package tokencache

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// fill caches four entries over two configs and three roles.
func fill(t *testing.T, c *Cache, v *vendor) {
	t.Helper()
	reqs := []testRead{
		{Key: "a1", Config: "alpha", Role: "r1", Scope: "s1"},
		{Key: "a2", Config: "alpha", Role: "r2", Scope: "s2"},
		{Key: "b1", Config: "beta", Role: "r1", Scope: "s1"},
		{Key: "b2", Config: "beta", Role: "r3", Scope: "s2"},
	}
	for _, r := range reqs {
		r.Fetch = v.Fetch
		expectSource(t, c, r, Fetched)
	}
}

func TestPurge(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		purge   func(c *Cache) int
		dropped int
		left    []string // config/scope of the rows left
	}{
		"config alpha":   {purge: func(c *Cache) int { return c.PurgeConfig("alpha") }, dropped: 2, left: []string{"beta/s1", "beta/s2"}},
		"unknown config": {purge: func(c *Cache) int { return c.PurgeConfig("gamma") }, dropped: 0, left: []string{"alpha/s1", "alpha/s2", "beta/s1", "beta/s2"}},
		"role r1":        {purge: func(c *Cache) int { return c.PurgeRole("r1") }, dropped: 2, left: []string{"alpha/s2", "beta/s2"}},
		"role r3":        {purge: func(c *Cache) int { return c.PurgeRole("r3") }, dropped: 1, left: []string{"alpha/s1", "alpha/s2", "beta/s1"}},
		"unknown role":   {purge: func(c *Cache) int { return c.PurgeRole("r9") }, dropped: 0, left: []string{"alpha/s1", "alpha/s2", "beta/s1", "beta/s2"}},
		"all":            {purge: func(c *Cache) int { return c.PurgeAll() }, dropped: 4},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, v, c, _ := setup(time.Hour)
			fill(t, c, v)
			if n := tc.purge(c); n != tc.dropped {
				t.Fatalf("purge dropped %d, want %d", n, tc.dropped)
			}
			var left []string
			for _, r := range c.Entries() {
				left = append(left, r.Config+"/"+r.Scope)
			}
			if !slices.Equal(left, tc.left) {
				t.Fatalf("left %v, want %v", left, tc.left)
			}
			// The next read of a purged entry fetches a new token.
			before := v.calls.Load()
			for _, r := range []testRead{{Key: "a1", Config: "alpha", Role: "r1", Scope: "s1"}, {Key: "b2", Config: "beta", Role: "r3", Scope: "s2"}} {
				r.Fetch = v.Fetch
				mustGet(t, c, r)
			}
			fetched := v.calls.Load() - before
			want := uint64(0)
			for _, k := range []string{"alpha/s1", "beta/s2"} {
				if !slices.Contains(tc.left, k) {
					want++
				}
			}
			if fetched != want {
				t.Fatalf("after the purge %d reads fetched, want %d", fetched, want)
			}
		})
	}
}

func TestPurgeDuringFetchDoesNotResurrect(t *testing.T) {
	t.Parallel()
	_, v, c, req := setup(time.Hour)
	v.gated()

	early := goFetch(t, c, v, req, "the first fetch")
	if n := c.PurgeConfig("scm-prod"); n != 1 {
		t.Fatalf("PurgeConfig = %d, want 1 (the entry of the fetch in flight)", n)
	}

	// A reader after the purge does not join the old fetch: it makes its own.
	late := goFetch(t, c, v, req, "the second fetch")
	close(v.gate)

	e := recv(t, early, "the early reader")
	l := recv(t, late, "the late reader")
	if e.err != nil || l.err != nil {
		t.Fatalf("errors: %v, %v", e.err, l.err)
	}
	if e.res.Token.AccessToken != "secret-token-1" || l.res.Token.AccessToken != "secret-token-2" {
		t.Fatalf("early got %q, late got %q", e.res.Token.AccessToken, l.res.Token.AccessToken)
	}
	// Only the post-purge token is cached, whichever fetch finished last.
	if res := expectSource(t, c, req, Hit); res.Token.AccessToken != "secret-token-2" {
		t.Fatalf("cached token is %q, want the one fetched after the purge", res.Token.AccessToken)
	}
	if rows := c.Entries(); len(rows) != 1 || rows[0].Counts.VendorCalls() != 1 {
		t.Fatalf("Entries = %+v, want one entry with one vendor call", rows)
	}
	// The purged entry's fetch and read are counted for the config.
	if n := c.Counts()["scm-prod"]; n.VendorCalls() != 2 || n.Reads(Fetched) != 2 || n.Reads(Hit) != 1 {
		t.Fatalf("config counts: %d vendor calls, %d fetched and %d hit reads; want 2, 2 and 1",
			n.VendorCalls(), n.Reads(Fetched), n.Reads(Hit))
	}
}

func TestPurgeAllDuringFetchLeavesNothing(t *testing.T) {
	t.Parallel()
	_, v, c, req := setup(time.Hour)
	v.gated()

	reader := goFetch(t, c, v, req, "the fetch")
	if n := c.PurgeAll(); n != 1 {
		t.Fatalf("PurgeAll = %d", n)
	}
	close(v.gate)
	expectRead(t, reader, "the reader", Fetched)
	if rows := c.Entries(); len(rows) != 0 {
		t.Fatalf("a purged entry came back: %+v", rows)
	}
	expectSource(t, c, req, Fetched)
	expectCalls(t, v, 2)
}

func TestFetchForAPurgedEntryDoesNotCallTheVendor(t *testing.T) {
	t.Parallel()
	_, v, c, req := setup(time.Hour)

	// A reader prepared its fetch; a purge came before the fetch started.
	e, _, _, done := c.prepare(req.login(), req.Role, req.MinTTL)
	if done {
		t.Fatal("prepare answered a first read by itself")
	}
	c.PurgeAll()
	if _, err := c.fetch(context.Background(), e, req.login(), ReasonMiss); !errors.Is(err, errPurged) {
		t.Fatalf("fetch = %v, want errPurged", err)
	}
	expectCalls(t, v, 0)
	if rows := c.Entries(); len(rows) != 0 {
		t.Fatalf("Entries = %+v", rows)
	}
}

func TestFetchForASweptEntryPutsItBack(t *testing.T) {
	t.Parallel()
	_, _, c, req := setup(time.Hour)

	e, _, _, _ := c.prepare(req.login(), req.Role, req.MinTTL)
	c.RefreshDue(context.Background()) // sweeps the empty entry
	if rows := c.Entries(); len(rows) != 0 {
		t.Fatalf("empty entry not swept: %+v", rows)
	}
	if _, err := c.fetch(context.Background(), e, req.login(), ReasonMiss); err != nil {
		t.Fatal(err)
	}
	expectSource(t, c, req, Hit)
}

func TestEntries(t *testing.T) {
	t.Parallel()
	clock, v, c, _ := setup(time.Hour)
	start := clock.Now()
	fill(t, c, v)
	// A second role on a1, added out of order; hits on two entries.
	extra := testRead{Key: "a1", Config: "alpha", Role: "r0", Scope: "s1", Fetch: v.Fetch}
	expectSource(t, c, extra, Hit)
	expectSource(t, c, extra, Hit)

	rows := c.Entries()
	type summary struct {
		Config, Scope string
		Roles         []string
		Hits, Calls   uint64
	}
	want := []summary{
		{"alpha", "s1", []string{"r0", "r1"}, 2, 1},
		{"alpha", "s2", []string{"r2"}, 0, 1},
		{"beta", "s1", []string{"r1"}, 0, 1},
		{"beta", "s2", []string{"r3"}, 0, 1},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d", len(rows), len(want))
	}
	for i, r := range rows {
		w := want[i]
		if r.Config != w.Config || r.Scope != w.Scope || !slices.Equal(r.Roles, w.Roles) || r.Counts.Hits() != w.Hits || r.Counts.VendorCalls() != w.Calls {
			t.Errorf("row %d = %+v, want %+v", i, r, w)
		}
		if !r.IssuedAt.Equal(start) || !r.ExpiresAt.Equal(start.Add(time.Hour)) || r.LastError != "" || !r.LastErrorAt.IsZero() || !r.FailFastUntil.IsZero() {
			t.Errorf("row %d = %+v", i, r)
		}
	}

	// The rows are copies.
	rows[0].Roles[0] = "changed"
	if got := c.Entries()[0].Roles[0]; got != "r0" {
		t.Fatalf("Entries shares its roles slice: %q", got)
	}

	js, err := json.Marshal(c.Entries())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), "secret-token") {
		t.Fatalf("Entries JSON contains a token: %s", js)
	}
}

func TestEntriesOfEqualRowsAreOrderedByKey(t *testing.T) {
	t.Parallel()
	clock, v, c, _ := setup(time.Hour)
	// Same config, scope and role, different keys (a credentials change
	// before the purge): the order is still fixed, by the hidden key.
	var issued []time.Time
	for _, k := range []Key{"z", "m", "a"} {
		r := testRead{Key: k, Config: "alpha", Role: "r", Scope: "s", Fetch: v.Fetch}
		issued = append(issued, expectSource(t, c, r, Fetched).Token.IssuedAt)
		clock.Advance(time.Second)
	}
	for range 20 {
		rows := c.Entries()
		if len(rows) != 3 || !rows[0].IssuedAt.Equal(issued[2]) || !rows[1].IssuedAt.Equal(issued[1]) || !rows[2].IssuedAt.Equal(issued[0]) {
			t.Fatalf("Entries = %+v, want the rows of keys a, m, z in that order", rows)
		}
	}
}
