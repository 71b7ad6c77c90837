package accounting_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/accounting"
)

// usageFixture: two projects, two sites, two partitions, three users, two
// months.
func usageFixture(t *testing.T) fixture {
	t.Helper()
	f := MustFixture(t, 1000*accounting.CoreHour, accounting.NoOverdraft)
	MustProject(t, f.l, "bio")
	MustAllocation(t, f.l, accounting.NewAllocation{Project: "bio", Site: "ca", StartsAt: year(2026), EndsAt: year(2027), Grant: 1000 * accounting.CoreHour, Who: "admin"})
	MustAllocation(t, f.l, accounting.NewAllocation{Project: "bio", Site: "de", StartsAt: year(2026), EndsAt: year(2027), Grant: 1000 * accounting.CoreHour, Who: "admin"})
	MustRate(t, f.l, "de", accounting.AnyPartition, 2000, year(2025))
	march, april := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)
	jobs := []struct {
		id, project, site, partition, user string
		cpu                                int64
		end                                time.Time
	}{
		{"1", "climate", "ca", "cpu", "alice", 100, march},
		{"2", "climate", "ca", "cpu", "bob", 200, march},
		{"3", "climate", "ca", "gpu", "alice", 400, april}, // x2.5 = 1000
		{"4", "bio", "ca", "cpu", "carol", 800, march},
		{"5", "bio", "de", "cpu", "carol", 1600, april}, // x2 = 3200
	}
	for _, j := range jobs {
		MustHold(t, f.l, accounting.HoldRequest{JobID: j.id, Project: j.project, Site: j.site, Partition: j.partition,
			User: j.user, Nodes: 1, CPUsPerNode: 1, TimeLimit: time.Hour, Who: "gw"})
		MustSettle(t, f.l, j.id, j.cpu, j.end)
	}
	return f
}

func TestUsageReports(t *testing.T) {
	f := usageFixture(t)
	ctx := t.Context()
	row := func(month accounting.Month, project, site, partition, user string, jobs, cpu, core int64) accounting.UsageRow {
		return accounting.UsageRow{Month: month, Project: project, Site: site, Partition: partition, User: user, Jobs: jobs,
			CPUSeconds: cpu, CoreSeconds: core, CoreHours: float64(core) / 3600, ChargedCoreSeconds: core}
	}
	tests := []struct {
		name string
		q    accounting.UsageQuery
		want []accounting.UsageRow
	}{
		{"total", accounting.UsageQuery{}, []accounting.UsageRow{row(0, "", "", "", "", 5, 3100, 5300)}},
		{"by project", accounting.UsageQuery{GroupBy: []accounting.Dimension{accounting.ByProject}}, []accounting.UsageRow{
			row(0, "bio", "", "", "", 2, 2400, 4000), row(0, "climate", "", "", "", 3, 700, 1300)}},
		{"march by project", accounting.UsageQuery{From: 202603, To: 202603, GroupBy: []accounting.Dimension{accounting.ByProject}}, []accounting.UsageRow{
			row(0, "bio", "", "", "", 1, 800, 800), row(0, "climate", "", "", "", 2, 300, 300)}},
		{"by month and project", accounting.UsageQuery{GroupBy: []accounting.Dimension{accounting.ByMonth, accounting.ByProject}}, []accounting.UsageRow{
			row(202603, "bio", "", "", "", 1, 800, 800), row(202603, "climate", "", "", "", 2, 300, 300),
			row(202604, "bio", "", "", "", 1, 1600, 3200), row(202604, "climate", "", "", "", 1, 400, 1000)}},
		{"by user", accounting.UsageQuery{GroupBy: []accounting.Dimension{accounting.ByUser}}, []accounting.UsageRow{
			row(0, "", "", "", "alice", 2, 500, 1100), row(0, "", "", "", "bob", 1, 200, 200), row(0, "", "", "", "carol", 2, 2400, 4000)}},
		{"by site", accounting.UsageQuery{GroupBy: []accounting.Dimension{accounting.BySite}}, []accounting.UsageRow{
			row(0, "", "ca", "", "", 4, 1500, 2100), row(0, "", "de", "", "", 1, 1600, 3200)}},
		{"climate by partition", accounting.UsageQuery{Project: "climate", GroupBy: []accounting.Dimension{accounting.ByPartition}}, []accounting.UsageRow{
			row(0, "", "", "cpu", "", 2, 300, 300), row(0, "", "", "gpu", "", 1, 400, 1000)}},
		{"filters", accounting.UsageQuery{Site: "ca", User: "alice", Partition: "cpu", GroupBy: []accounting.Dimension{accounting.ByProject}},
			[]accounting.UsageRow{row(0, "climate", "", "", "", 1, 100, 100)}},
		{"empty month", accounting.UsageQuery{From: 202601, To: 202602, GroupBy: []accounting.Dimension{accounting.ByProject}}, []accounting.UsageRow{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.l.Usage(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	for _, bad := range []accounting.UsageQuery{
		{GroupBy: []accounting.Dimension{"queue"}},
		{GroupBy: []accounting.Dimension{accounting.ByUser, accounting.ByUser}},
		{From: 202613},
	} {
		if _, err := f.l.Usage(ctx, bad); !errors.Is(err, accounting.ErrInvalid) {
			t.Errorf("Usage(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestBalancesAndBurnRate(t *testing.T) {
	f := MustFixture(t, 1000*accounting.CoreHour, accounting.NoOverdraft)
	ctx := t.Context()
	// 10 core-hours a day for the 30 days before t0, one job a day.
	for d := 30; d >= 1; d-- {
		f.clk.Set(t0.Add(-time.Duration(d)*24*time.Hour - time.Hour))
		id := "d" + time.Duration(d).String()
		MustHold(t, f.l, hold(id, 10, time.Hour))
		MustSettle(t, f.l, id, 10*3600, t0.Add(-time.Duration(d)*24*time.Hour))
	}
	f.clk.Set(t0)
	MustHold(t, f.l, hold("pending", 5, time.Hour))
	b := AssertBalanceIsSumOfEntries(t, f.l, f.alloc.ID)
	if b.ChargedCoreSeconds != 300*accounting.CoreHour || b.HeldCoreSeconds != 5*accounting.CoreHour ||
		b.RemainingCoreSeconds != 695*accounting.CoreHour {
		t.Fatalf("balance = %+v", b)
	}
	if b.BurnCoreSecondsPerDay != 10*accounting.CoreHour || b.BurnCoreHoursPerDay != 10 {
		t.Errorf("burn = %d/day (%.2f h), want 10 core-hours a day", b.BurnCoreSecondsPerDay, b.BurnCoreHoursPerDay)
	}
	// 695 core-hours at 10 a day: 69.5 days.
	want := t0.Add(time.Duration(69.5 * 24 * float64(time.Hour)))
	if b.ExhaustedAt == nil || !b.ExhaustedAt.Equal(want) {
		t.Errorf("exhausted at %v, want %v", b.ExhaustedAt, want)
	}
	if b.StartsAt != year(2026) || b.EndsAt != year(2027) || !b.At.Equal(t0) {
		t.Errorf("period = %v..%v at %v", b.StartsAt, b.EndsAt, b.At)
	}
	// A window reaching before the allocation is clipped to its start.
	bs, err := f.l.Balances(ctx, accounting.BalanceQuery{Project: "climate", BurnWindow: 365 * 24 * time.Hour})
	if err != nil || len(bs) != 1 {
		t.Fatalf("balances = %v, %v", bs, err)
	}
	days := t0.Sub(year(2026)).Hours() / 24 // 68.5
	if got, want := bs[0].BurnCoreHoursPerDay, 300/days; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("burn over the clipped window = %f, want %f", got, want)
	}
	if !bs[0].BurnFrom.Equal(year(2026)) {
		t.Errorf("burn from %v", bs[0].BurnFrom)
	}
	// ActiveOnly drops allocations not covering now.
	MustAllocation(t, f.l, accounting.NewAllocation{Project: "climate", Site: "ca", StartsAt: year(2027), EndsAt: year(2028), Who: "admin"})
	if all, _ := f.l.Balances(ctx, accounting.BalanceQuery{}); len(all) != 2 {
		t.Errorf("%d balances, want 2", len(all))
	}
	if active, _ := f.l.Balances(ctx, accounting.BalanceQuery{ActiveOnly: true}); len(active) != 1 || active[0].AllocationID != f.alloc.ID {
		t.Errorf("active balances = %+v", active)
	}
	if _, err := f.l.Balance(ctx, 999); !errors.Is(err, accounting.ErrNotFound) {
		t.Errorf("unknown allocation: %v", err)
	}
}

// The JSON of report rows follows the gateway's conventions: core_seconds
// integers, core_hours numbers, times RFC 3339 UTC, ids strings, months
// "YYYY-MM".
func TestReportJSONConventions(t *testing.T) {
	f := usageFixture(t)
	ctx := t.Context()
	rfc3339UTC := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	check := func(name string, v any) map[string]any {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for k, val := range m {
			switch {
			case regexp.MustCompile(`core_seconds|cpu_seconds|_per_day$|^jobs$|thousandths`).MatchString(k) && !regexp.MustCompile(`hours`).MatchString(k):
				n, ok := val.(float64)
				if !ok || n != float64(int64(n)) {
					t.Errorf("%s.%s = %v, want an integer", name, k, val)
				}
			case regexp.MustCompile(`core_hours`).MatchString(k):
				if _, ok := val.(float64); !ok {
					t.Errorf("%s.%s = %v, want a number", name, k, val)
				}
			case k == "entry_id" || k == "allocation_id":
				if _, ok := val.(string); !ok {
					t.Errorf("%s.%s = %v, want a string id", name, k, val)
				}
			case regexp.MustCompile(`_at$|^at$|^end$|_from$`).MatchString(k):
				if s, ok := val.(string); !ok || !rfc3339UTC.MatchString(s) {
					t.Errorf("%s.%s = %v, want RFC 3339 UTC", name, k, val)
				}
			case k == "month":
				if s, ok := val.(string); !ok || !regexp.MustCompile(`^\d{4}-\d\d$`).MatchString(s) {
					t.Errorf("%s.%s = %v, want YYYY-MM", name, k, val)
				}
			}
		}
		return m
	}
	u, err := f.l.Usage(ctx, accounting.UsageQuery{GroupBy: []accounting.Dimension{accounting.ByMonth, accounting.ByProject}})
	if err != nil {
		t.Fatal(err)
	}
	m := check("usage", u[0])
	for _, k := range []string{"month", "project", "jobs", "cpu_seconds", "core_seconds", "core_hours"} {
		if _, ok := m[k]; !ok {
			t.Errorf("usage row lacks %q: %v", k, m)
		}
	}
	if _, ok := m["user"]; ok {
		t.Errorf("usage row not grouped by user has a user: %v", m)
	}
	bs, err := f.l.Balances(ctx, accounting.BalanceQuery{})
	if err != nil {
		t.Fatal(err)
	}
	m = check("balance", bs[0])
	for _, k := range []string{"granted_core_seconds", "held_core_seconds", "charged_core_seconds", "remaining_core_seconds",
		"remaining_core_hours", "burn_core_hours_per_day", "starts_at", "ends_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("balance lacks %q", k)
		}
	}
	es, err := f.l.Entries(ctx, accounting.EntryQuery{Kind: accounting.KindCharge, Limit: 1})
	if err != nil || len(es) != 1 {
		t.Fatalf("entries = %v, %v", es, err)
	}
	check("entry", es[0])
	var back accounting.UsageRow
	b, _ := json.Marshal(u[0])
	if err := json.Unmarshal(b, &back); err != nil || back != u[0] {
		t.Errorf("usage row round trip: %+v, %v", back, err)
	}
	// An empty list is an array, not null.
	empty, err := f.l.Usage(ctx, accounting.UsageQuery{From: 201001, To: 201001, GroupBy: []accounting.Dimension{accounting.ByUser}})
	if b, _ := json.Marshal(empty); err != nil || string(b) != "[]" {
		t.Errorf("empty report = %s, %v", b, err)
	}
}

func TestWriteCSV(t *testing.T) {
	f := usageFixture(t)
	ctx := t.Context()
	u, err := f.l.Usage(ctx, accounting.UsageQuery{GroupBy: []accounting.Dimension{accounting.ByMonth, accounting.ByProject}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := accounting.WriteCSV(&buf, u); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(u) {
		t.Fatalf("%d records for %d rows", len(recs), len(u))
	}
	want := []string{"2026-04", "climate", "", "", "", "1", "400", "1000", "0.2777777777777778", "1000", "0", "0"}
	if !reflect.DeepEqual(recs[4], want) {
		t.Errorf("row = %q, want %q", recs[4], want)
	}
	buf.Reset()
	bs, _ := f.l.Balances(ctx, accounting.BalanceQuery{})
	if err := accounting.WriteCSV(&buf, bs); err != nil {
		t.Fatal(err)
	}
	recs, err = csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 1+len(bs) || recs[0][0] != "allocation_id" || recs[1][4] != "2026-01-01T00:00:00Z" {
		t.Errorf("balances CSV = %q, %v", recs, err)
	}
}
