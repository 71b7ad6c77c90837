package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sta-federation/sta-gateway/gateway/api"
)

// trail opens a siteless gateway, writes n+1 audit records through the API (n
// rejected jobs, one project created by an admin), closes it and returns its
// configuration and the head it exported.
func trail(t *testing.T, n int) (*Config, AuditHead) {
	t.Helper()
	g, srv := siteless(t)
	for range n {
		if st, _, b := call(t, srv, "POST", "/v1/jobs", "alice", api.SubmitRequest{Script: "#!/bin/sh\nhostname\n", Project: "climate"}); st != 201 {
			t.Fatalf("submit: %d %s", st, b)
		}
	}
	if st, _, b := call(t, srv, "POST", "/v1/admin/projects", "admin", api.Project{Name: "astro", Members: []string{"alice"},
		Jurisdictions: []string{"DE"}}); st != 201 {
		t.Fatalf("create project: %d %s", st, b)
	}
	st, _, b := call(t, srv, "GET", "/v1/admin/audit", "admin", nil)
	var recs []api.AuditRecord
	if st != 200 || json.Unmarshal(b, &recs) != nil || len(recs) != n+1 {
		t.Fatalf("GET /v1/admin/audit: %d %s; want %d records", st, b, n+1)
	}
	if recs[0].Action != "job.rejected" || recs[n].Action != "project.created" || recs[n].Actor != "admin" {
		t.Errorf("records %+v", recs)
	}
	if st, _, _ := call(t, srv, "GET", "/v1/admin/audit", "alice", nil); st != 403 {
		t.Errorf("a user read the audit trail: %d", st)
	}
	head := g.AuditHeadNow()
	if head.Seq != int64(n+1) || head.MAC != recs[n].MAC {
		t.Fatalf("exported head %v, last record %d %s", head, recs[n].Seq, recs[n].MAC)
	}
	m := scrape(t, srv)
	if m[fmt.Sprintf(`sta_gateway_audit_head_info{mac="%s",seq="%d"}`, head.MAC, head.Seq)] != 1 ||
		m["sta_gateway_audit_head_seq"] != float64(head.Seq) || m["sta_gateway_audit_verified"] != 1 {
		t.Errorf("audit metrics: seq %v verified %v", m["sta_gateway_audit_head_seq"], m["sta_gateway_audit_verified"])
	}
	srv.Close()
	g.Close()
	return g.cfg, head
}

// raw opens the state database around the gateway (as an intruder with write
// access to the file, but not the key, would) and drops the append-only triggers.
func raw(t *testing.T, cfg *Config) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(cfg.StateDir, "sta-gateway.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{`DROP TRIGGER gateway_audit_no_update`, `DROP TRIGGER gateway_audit_no_delete`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func TestAuditTrailShowsEveryRewrite(t *testing.T) {
	ctx := context.Background()
	t.Run("intact", func(t *testing.T) {
		cfg, head := trail(t, 4)
		got, n, err := VerifyAuditFile(ctx, cfg, &head)
		if err != nil || got != head || n != 5 {
			t.Fatalf("verify: %v %d %v", got, n, err)
		}
	})
	t.Run("the triggers refuse edits through SQL", func(t *testing.T) {
		cfg, _ := trail(t, 1)
		db, err := sql.Open("sqlite3", "file:"+filepath.Join(cfg.StateDir, "sta-gateway.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range []string{`UPDATE gateway_audit SET actor = 'x'`, `DELETE FROM gateway_audit`} {
			if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	t.Run("edited record", func(t *testing.T) {
		cfg, _ := trail(t, 4)
		if _, err := raw(t, cfg).Exec(`UPDATE gateway_audit SET detail = replace(detail, 'no site', 'NO SITE') WHERE seq = 2`); err != nil {
			t.Fatal(err)
		}
		wantBroken(t, cfg, nil, 2)
	})
	t.Run("record dropped from the middle", func(t *testing.T) {
		cfg, _ := trail(t, 4)
		if _, err := raw(t, cfg).Exec(`DELETE FROM gateway_audit WHERE seq = 3`); err != nil {
			t.Fatal(err)
		}
		wantBroken(t, cfg, nil, 3)
	})
	t.Run("records renumbered to hide a drop", func(t *testing.T) {
		cfg, _ := trail(t, 4)
		db := raw(t, cfg)
		if _, err := db.Exec(`DELETE FROM gateway_audit WHERE seq = 3`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`UPDATE gateway_audit SET seq = seq - 1 WHERE seq > 3`); err != nil {
			t.Fatal(err)
		}
		wantBroken(t, cfg, nil, 3)
	})
	t.Run("tail rewritten without the key", func(t *testing.T) {
		cfg, _ := trail(t, 4)
		db := raw(t, cfg)
		// Re-chain records 3.. with a key of the intruder's own: every MAC
		// is well formed and chains to the one before, but not under the key.
		forge := []byte("0123456789abcdef0123456789abcdef")
		var prevHex string
		if err := db.QueryRow(`SELECT mac FROM gateway_audit WHERE seq = 2`).Scan(&prevHex); err != nil {
			t.Fatal(err)
		}
		prev, _ := hex.DecodeString(prevHex)
		recs, err := AuditRecords(ctx, db, 2, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			r.Actor = "intruder"
			mac := auditMAC(forge, prev, &r)
			if _, err := db.Exec(`UPDATE gateway_audit SET actor = ?, mac = ? WHERE seq = ?`, r.Actor, hex.EncodeToString(mac), r.Seq); err != nil {
				t.Fatal(err)
			}
			prev = mac
		}
		wantBroken(t, cfg, nil, 3)
	})
	t.Run("tail cut off", func(t *testing.T) {
		cfg, head := trail(t, 4)
		if _, err := raw(t, cfg).Exec(`DELETE FROM gateway_audit WHERE seq >= 4`); err != nil {
			t.Fatal(err)
		}
		// The rest still chains: only the exported head shows the cut.
		if _, _, err := VerifyAuditFile(ctx, cfg, nil); err != nil {
			t.Fatalf("without the head: %v", err)
		}
		wantBroken(t, cfg, &head, head.Seq)
	})
	t.Run("a reopened gateway reports a broken trail", func(t *testing.T) {
		cfg, _ := trail(t, 2)
		if _, err := raw(t, cfg).Exec(`UPDATE gateway_audit SET subject = 'other' WHERE seq = 1`); err != nil {
			t.Fatal(err)
		}
		g, err := Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		srv := httptest.NewServer(g.Handler())
		defer srv.Close()
		_, _, b := call(t, srv, "GET", "/v1/health", "", nil)
		var h api.Health
		json.Unmarshal(b, &h)
		if h.Status != "degraded" || !strings.Contains(h.Audit, "audit record 1") {
			t.Errorf("health %+v", h)
		}
		if m := scrape(t, srv); m["sta_gateway_audit_verified"] != 0 {
			t.Errorf("sta_gateway_audit_verified = %v, want 0", m["sta_gateway_audit_verified"])
		}
	})
}

// TestAuditKeyLost: a trail with records whose key file is gone does not
// start with a new key (which would leave the trail unverifiable for good);
// the key restored, the daemon starts and the trail verifies. An empty trail
// gets a new key.
func TestAuditKeyLost(t *testing.T) {
	ctx := context.Background()
	cfg, head := trail(t, 2)
	keyFile := filepath.Join(cfg.StateDir, "audit.key")
	if err := os.Rename(keyFile, keyFile+".away"); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if g, err := Open(ctx, cfg, quiet); err == nil {
		g.Close()
		t.Fatal("the daemon started without the key of a trail with records")
	} else if !strings.Contains(err.Error(), "3 records") || !strings.Contains(err.Error(), "restore the key file") {
		t.Errorf("error %q", err)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Fatalf("a new key file was written: %v", err)
	}
	if _, _, err := VerifyAuditFile(ctx, cfg, nil); err == nil || errors.As(err, new(*AuditError)) {
		t.Errorf("verify without the key: %v; want an error that is not a break in the trail", err)
	}
	if err := os.Rename(keyFile+".away", keyFile); err != nil {
		t.Fatal(err)
	}
	g, err := Open(ctx, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	if got, _, err := VerifyAuditFile(ctx, cfg, &head); err != nil || got != head {
		t.Errorf("verify with the key back: %v %v", got, err)
	}
}

// TestAuditHeadParse: heads as the daemon exports them, in either case, and
// the empty trail's; anything else is refused rather than read loosely.
func TestAuditHeadParse(t *testing.T) {
	mac := strings.Repeat("ab", 32)
	for _, ok := range []struct {
		in   string
		want AuditHead
	}{
		{"12:" + mac, AuditHead{12, mac}},
		{"12:" + strings.ToUpper(mac), AuditHead{12, mac}},
		{"0:" + zeroMAC, AuditHead{0, zeroMAC}},
	} {
		if h, err := ParseAuditHead(ok.in); err != nil || h != ok.want {
			t.Errorf("ParseAuditHead(%q) = %v, %v", ok.in, h, err)
		}
	}
	for _, bad := range []string{"010x:" + mac, "3x:" + mac, "-1:" + mac, "0x10:" + mac, "12:" + mac[:63] + "g", "12:" + mac[:62], "12" + mac, ""} {
		if h, err := ParseAuditHead(bad); err == nil {
			t.Errorf("ParseAuditHead(%q) = %v, want an error", bad, h)
		}
	}
	// The empty trail's head verifies against any trail (it held then); a
	// zero sequence with another MAC does not.
	cfg, _ := trail(t, 1)
	if _, _, err := VerifyAuditFile(context.Background(), cfg, &AuditHead{0, zeroMAC}); err != nil {
		t.Errorf("the empty trail's head: %v", err)
	}
	wantBroken(t, cfg, &AuditHead{0, mac}, 0)
}

func wantBroken(t *testing.T, cfg *Config, head *AuditHead, seq int64) {
	t.Helper()
	_, _, err := VerifyAuditFile(context.Background(), cfg, head)
	var ae *AuditError
	if !errors.As(err, &ae) || ae.Seq != seq {
		t.Fatalf("verify: %v; want a break at record %d", err, seq)
	}
	t.Logf("detected: %v", err)
}

// TestAuditMACCoversEveryField: changing any one field of a record changes
// its MAC (fields are length-prefixed, so moving bytes between neighbours
// does too).
func TestAuditMACCoversEveryField(t *testing.T) {
	key := []byte("k0123456789abcdef0123456789abcdef")
	prev := make([]byte, sha256.Size)
	base := AuditRecord{Seq: 7, Actor: "alice", Action: "job.accepted", Subject: "j1", Detail: json.RawMessage(`{"a":1}`)}
	mac := auditMAC(key, prev, &base)
	for name, r := range map[string]AuditRecord{
		"seq":     {Seq: 8, Actor: "alice", Action: "job.accepted", Subject: "j1", Detail: base.Detail},
		"actor":   {Seq: 7, Actor: "alicf", Action: "job.accepted", Subject: "j1", Detail: base.Detail},
		"shifted": {Seq: 7, Actor: "alicej", Action: "ob.accepted", Subject: "j1", Detail: base.Detail},
		"subject": {Seq: 7, Actor: "alice", Action: "job.accepted", Subject: "j2", Detail: base.Detail},
		"detail":  {Seq: 7, Actor: "alice", Action: "job.accepted", Subject: "j1", Detail: json.RawMessage(`{"a":2}`)},
	} {
		if hmac.Equal(mac, auditMAC(key, prev, &r)) {
			t.Errorf("%s: same MAC", name)
		}
	}
	other := append([]byte{}, prev...)
	other[0] = 1
	if hmac.Equal(mac, auditMAC(key, other, &base)) {
		t.Error("previous MAC not covered")
	}
}

// TestAuditHeadOnlyMovesForward: records announced out of commit order (two
// transactions racing to log) leave the exported head at the newest.
func TestAuditHeadOnlyMovesForward(t *testing.T) {
	g, _ := siteless(t)
	start := g.AuditHeadNow().Seq
	g.announce(AuditRecord{Seq: start + 2, MAC: strings.Repeat("b", 64)})
	g.announce(AuditRecord{Seq: start + 1, MAC: strings.Repeat("a", 64)})
	if h := g.AuditHeadNow(); h.Seq != start+2 || h.MAC != strings.Repeat("b", 64) {
		t.Errorf("head %v after announcing %d then %d", h, start+2, start+1)
	}
}
