package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sta-federation/sta-gateway/gateway/api"
)

// The audit trail (ARCHITECTURE.md "Audit"). Every change that matters (a job
// accepted, rejected, submitted, cancelled, settled; a project created; an
// allocation granted) appends a record in the same transaction as the change:
// a record exists exactly when the change committed. Each record carries
//
//	mac = HMAC-SHA256(key, prev_mac || len-prefixed(seq, at, actor, action, subject, detail))
//
// with prev_mac the previous record's MAC (32 zero bytes before the first). The
// key lives in a file outside the database (audit.key_file), so whoever can write
// the database alone cannot forge a record, edit one, drop one from the middle, or
// rewrite the tail: VerifyAudit finds the first record that does not chain. The
// head (seq and MAC) is logged with each record and exported as a metric, so a
// truncated or rewritten tail shows against what was exported
// (sta-gateway audit verify --head SEQ:MAC).

// AuditRecord is one record of the trail, as the API shows it.
type AuditRecord = api.AuditRecord

// AuditHead is the last record's sequence number and MAC.
type AuditHead struct {
	Seq int64  `json:"seq"`
	MAC string `json:"mac"`
}

func (h AuditHead) String() string { return fmt.Sprintf("%d:%s", h.Seq, h.MAC) }

// ParseAuditHead reads "SEQ:MAC": a decimal sequence number (0 for the head of
// an empty trail) and 64 hex digits, in either case.
func ParseAuditHead(s string) (AuditHead, error) {
	seq, mac, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if _, herr := hex.DecodeString(mac); !ok || err != nil || n < 0 || len(mac) != 64 || herr != nil {
		return AuditHead{}, fmt.Errorf("audit head %q: want SEQ:MAC (a decimal number, a colon, 64 hex digits)", s)
	}
	return AuditHead{Seq: n, MAC: strings.ToLower(mac)}, nil
}

// zeroMAC is the "previous MAC" of the first record, and the head of an empty
// trail.
var zeroMAC = strings.Repeat("0", 2*sha256.Size)

// loadAuditKey reads the key file, creating it (32 random bytes, hex, mode 0600)
// when it does not exist and the trail is empty. A trail with records and no
// key file is refused: a new key would leave it unverifiable for good (a key
// volume not mounted, a database restored without its key).
func loadAuditKey(ctx context.Context, db *sql.DB, path string) ([]byte, error) {
	k, err := readAuditKey(path)
	if !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM gateway_audit`).Scan(&n); err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	if n > 0 {
		return nil, fmt.Errorf("audit key %s does not exist, but the audit trail has %d records signed with a key: "+
			"restore the key file (a new one would make the trail unverifiable)", path, n)
	}
	k = make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit key %s: %w", path, err)
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}

// readAuditKey reads an existing key file (readSecret: no one else may read
// it): at least 64 hex digits.
func readAuditKey(path string) ([]byte, error) {
	b, err := readSecret("audit key", path)
	if err != nil {
		return nil, err
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) < 32 {
		return nil, fmt.Errorf("audit key %s: want at least 64 hex digits", path)
	}
	return k, nil
}

// auditKeyFile is where the audit key lives: audit.key_file, else the state
// folder's audit.key.
func (c *Config) auditKeyFile() string {
	if c.Audit.KeyFile != "" {
		return c.Audit.KeyFile
	}
	return filepath.Join(c.StateDir, "audit.key")
}

// auditMAC computes a record's MAC from the previous one.
func auditMAC(key []byte, prev []byte, r *AuditRecord) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(prev)
	var n [binary.MaxVarintLen64]byte
	field := func(s string) {
		m.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		m.Write([]byte(s))
	}
	field(fmt.Sprint(r.Seq))
	field(fmt.Sprint(r.At.UnixMilli()))
	field(r.Actor)
	field(r.Action)
	field(r.Subject)
	field(string(r.Detail))
	return m.Sum(nil)
}

// audit appends a record in tx (the transaction of the change it records). Once
// tx has committed, the caller passes the record to announce.
func (g *Gateway) audit(ctx context.Context, tx *sql.Tx, actor, action, subject string, detail any) (AuditRecord, error) {
	d, err := json.Marshal(detail)
	if err != nil {
		return AuditRecord{}, fmt.Errorf("audit %s: %w", action, err)
	}
	prev := make([]byte, sha256.Size)
	var seq int64
	var prevHex string
	err = tx.QueryRowContext(ctx, `SELECT seq, mac FROM gateway_audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prevHex)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return AuditRecord{}, fmt.Errorf("audit: %w", err)
	default:
		if prev, err = hex.DecodeString(prevHex); err != nil {
			return AuditRecord{}, fmt.Errorf("audit: record %d: bad mac", seq)
		}
	}
	r := AuditRecord{Seq: seq + 1, At: g.now().UTC().Truncate(time.Millisecond), Actor: actor, Action: action,
		Subject: subject, Detail: d}
	r.MAC = hex.EncodeToString(auditMAC(g.auditKey, prev, &r))
	if _, err := tx.ExecContext(ctx, `INSERT INTO gateway_audit (seq, at, actor, action, subject, detail, mac)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, r.Seq, r.At.UnixMilli(), r.Actor, r.Action, r.Subject, string(r.Detail), r.MAC); err != nil {
		return AuditRecord{}, fmt.Errorf("audit: %w", err)
	}
	return r, nil
}

// announce logs a committed record with the new head and exports the head.
func (g *Gateway) announce(r AuditRecord) {
	if r.Seq == 0 {
		return
	}
	// Transactions commit one after another but may announce out of order:
	// the exported head only moves forward.
	h := &AuditHead{Seq: r.Seq, MAC: r.MAC}
	for {
		cur := g.auditHead.Load()
		if (cur != nil && cur.Seq >= h.Seq) || g.auditHead.CompareAndSwap(cur, h) {
			break
		}
	}
	g.log.Info("audit", "audit_seq", r.Seq, "audit_mac", r.MAC, "actor", r.Actor, "action", r.Action, "subject", r.Subject)
}

// auditAlone records a change that was written by its own transaction (the
// ledger's grant, a cancel request) in a transaction of the record's own.
func (g *Gateway) auditAlone(ctx context.Context, actor, action, subject string, detail any) error {
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	r, err := g.audit(ctx, tx, actor, action, subject, detail)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	g.announce(r)
	return nil
}

// auditReader is what *sql.DB and *sql.Tx have in common for reading the trail.
type auditReader interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// AuditRecords returns records after seq (at most limit).
func AuditRecords(ctx context.Context, db auditReader, after int64, limit int) ([]AuditRecord, error) {
	rows, err := db.QueryContext(ctx, `SELECT seq, at, actor, action, subject, detail, mac FROM gateway_audit
		WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AuditRecord{}
	for rows.Next() {
		var r AuditRecord
		var at int64
		var d string
		if err := rows.Scan(&r.Seq, &at, &r.Actor, &r.Action, &r.Subject, &d, &r.MAC); err != nil {
			return nil, err
		}
		r.At, r.Detail = time.UnixMilli(at).UTC(), json.RawMessage(d)
		out = append(out, r)
	}
	return out, rows.Err()
}

// AuditError says where the trail stops chaining.
type AuditError struct {
	Seq int64
	Msg string
}

func (e *AuditError) Error() string { return fmt.Sprintf("audit record %d: %s", e.Seq, e.Msg) }

// VerifyAudit walks the whole trail and returns its head, or an *AuditError at
// the first record that is missing, out of order or whose MAC does not chain.
// With want set (an exported head), the trail must hold that record unchanged
// (0 and the zero MAC: the head of the empty trail, always held). Other errors
// (reading the database) are not an *AuditError.
func VerifyAudit(ctx context.Context, db auditReader, key []byte, want *AuditHead) (AuditHead, error) {
	prev := make([]byte, sha256.Size)
	head := AuditHead{MAC: zeroMAC}
	if want != nil && want.Seq == 0 && want.MAC != zeroMAC {
		return head, &AuditError{Seq: 0, Msg: "the exported head " + want.String() + " is not the empty trail's (0:" + zeroMAC + ")"}
	}
	seen := want != nil && want.Seq == 0
	for {
		recs, err := AuditRecords(ctx, db, head.Seq, 1000)
		if err != nil {
			return head, err
		}
		if len(recs) == 0 {
			break
		}
		for i := range recs {
			r := &recs[i]
			if r.Seq != head.Seq+1 {
				return head, &AuditError{Seq: head.Seq + 1, Msg: fmt.Sprintf("missing (the next record is %d)", r.Seq)}
			}
			mac, err := hex.DecodeString(r.MAC)
			if err != nil || !hmac.Equal(mac, auditMAC(key, prev, r)) {
				return head, &AuditError{Seq: r.Seq, Msg: "its MAC does not match its content and the record before it: the trail was changed here"}
			}
			if want != nil && r.Seq == want.Seq {
				if r.MAC != want.MAC {
					return head, &AuditError{Seq: r.Seq, Msg: "differs from the exported head " + want.String()}
				}
				seen = true
			}
			prev, head = mac, AuditHead{Seq: r.Seq, MAC: r.MAC}
		}
	}
	if want != nil && !seen {
		return head, &AuditError{Seq: want.Seq, Msg: fmt.Sprintf("missing: the exported head is %s, the trail ends at %d", want, head.Seq)}
	}
	return head, nil
}

// auditProblem is why the trail did not verify at start ("" when it did).
func (g *Gateway) auditProblem() string {
	s, _ := g.auditBroken.Load().(string)
	return s
}

// AuditHeadNow is the head as last committed.
func (g *Gateway) AuditHeadNow() AuditHead {
	if h := g.auditHead.Load(); h != nil {
		return *h
	}
	return AuditHead{}
}

// VerifyAuditFile checks the trail of a state folder offline (the daemon may be
// running: readers do not block it).
func VerifyAuditFile(ctx context.Context, cfg *Config, want *AuditHead) (AuditHead, int64, error) {
	key, err := readAuditKey(cfg.auditKeyFile())
	if err != nil {
		return AuditHead{}, 0, err
	}
	dbPath := filepath.Join(cfg.StateDir, "sta-gateway.db")
	if _, err := os.Stat(dbPath); err != nil {
		return AuditHead{}, 0, err
	}
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: dbPath}).EscapedPath()+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return AuditHead{}, 0, err
	}
	defer db.Close()
	// One read transaction: the count and the walk see the same trail while
	// the daemon appends.
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return AuditHead{}, 0, err
	}
	defer tx.Rollback()
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM gateway_audit`).Scan(&n); err != nil {
		return AuditHead{}, 0, err
	}
	h, err := VerifyAudit(ctx, tx, key, want)
	return h, n, err
}
