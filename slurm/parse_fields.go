package slurm

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ParseError is output of a Slurm command that this package cannot read. A query
// whose output does not parse is a failed query: it never changes a job's state.
type ParseError struct {
	Command string // squeue, sacct, scontrol, sbatch
	Line    int    // 1-based line where the record starts (0 when unknown)
	Field   string // the field that failed, if one did
	Err     error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.Command)
	b.WriteString(" output")
	if e.Line > 0 {
		fmt.Fprintf(&b, ", line %d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ", field %s", e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// maxOutputBytes bounds what one parser reads (a site with 60000 jobs prints
// about 20 MB of squeue rows).
const maxOutputBytes = 256 << 20

func readAllBounded(cmd string, r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxOutputBytes+1))
	if err != nil {
		return nil, &ParseError{Command: cmd, Err: err}
	}
	if len(b) > maxOutputBytes {
		return nil, &ParseError{Command: cmd, Err: fmt.Errorf("output larger than %d bytes", maxOutputBytes)}
	}
	return b, nil
}

// parseEpochTime reads a time printed under SLURM_TIME_FORMAT=%s: seconds since
// the epoch, returned in UTC. Slurm's words for "no time" ("Unknown", "None",
// "N/A", empty) and 0 give the zero time. Anything else is an error, which is
// what a site that ignores SLURM_TIME_FORMAT produces.
func parseEpochTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "0", "Unknown", "None", "N/A", "(null)", "NONE", "UNKNOWN", "n/a":
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("time %q is not epoch seconds (is SLURM_TIME_FORMAT=%%s set?)", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// TimeLimit is a Slurm time limit. The zero value is "no limit set" (NONE,
// NOT_SET, Partition_Limit); Infinite is UNLIMITED or INFINITE.
type TimeLimit struct {
	Duration time.Duration // meaningful when !Infinite
	Infinite bool
}

// IsSet reports whether a limit is given (finite or infinite).
func (l TimeLimit) IsSet() bool { return l.Infinite || l.Duration > 0 }

func (l TimeLimit) String() string {
	switch {
	case l.Infinite:
		return "UNLIMITED"
	case l.Duration <= 0:
		return "NONE"
	}
	secs := int64(l.Duration / time.Second)
	d, h, m, s := secs/86400, secs/3600%24, secs/60%60, secs%60
	if d > 0 {
		return fmt.Sprintf("%d-%02d:%02d:%02d", d, h, m, s)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
}

// ParseTimeLimit reads a time limit as Slurm prints or accepts it: "M", "M:S",
// "H:M:S", "D-H", "D-H:M", "D-H:M:S" (so "30:00" is thirty minutes, as squeue
// prints it), "UNLIMITED"/"INFINITE", and "NONE", "NOT_SET", "N/A",
// "Partition_Limit" or empty for no limit.
func ParseTimeLimit(s string) (TimeLimit, error) {
	s = strings.TrimSpace(s)
	switch strings.ToUpper(s) {
	case "UNLIMITED", "INFINITE":
		return TimeLimit{Infinite: true}, nil
	case "", "NONE", "NOT_SET", "N/A", "PARTITION_LIMIT", "(NULL)":
		return TimeLimit{}, nil
	}
	bad := fmt.Errorf("time limit %q: want [D-]H:M:S, M:S or M", s)
	num := func(p string) (int64, bool) {
		if p == "" || len(p) > 9 {
			return 0, false
		}
		n, err := strconv.ParseInt(p, 10, 64)
		return n, err == nil && n >= 0
	}
	var days, h, m, sec int64
	rest := s
	if d, r, ok := strings.Cut(s, "-"); ok {
		var okd bool
		if days, okd = num(d); !okd {
			return TimeLimit{}, bad
		}
		parts := strings.Split(r, ":")
		if len(parts) > 3 {
			return TimeLimit{}, bad
		}
		vals := [3]int64{}
		for i, p := range parts {
			v, ok := num(p)
			if !ok {
				return TimeLimit{}, bad
			}
			vals[i] = v
		}
		h, m, sec = vals[0], vals[1], vals[2]
	} else {
		parts := strings.Split(rest, ":")
		vals := make([]int64, len(parts))
		for i, p := range parts {
			v, ok := num(p)
			if !ok {
				return TimeLimit{}, bad
			}
			vals[i] = v
		}
		switch len(vals) {
		case 1:
			m = vals[0]
		case 2:
			m, sec = vals[0], vals[1]
		case 3:
			h, m, sec = vals[0], vals[1], vals[2]
		default:
			return TimeLimit{}, bad
		}
	}
	total := ((days*24+h)*60+m)*60 + sec
	if total > int64(time.Duration(1<<62)/time.Second) {
		return TimeLimit{}, bad
	}
	return TimeLimit{Duration: time.Duration(total) * time.Second}, nil
}

// parseSlurmCount reads a non-negative count ("4", "UNLIMITED" -> 0 with unlimited).
func parseSlurmCount(s string) (n int, unlimited bool, err error) {
	s = strings.TrimSpace(s)
	switch strings.ToUpper(s) {
	case "UNLIMITED", "INFINITE":
		return 0, true, nil
	case "", "N/A", "(NULL)":
		return 0, false, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > 1<<31-1 {
		return 0, false, fmt.Errorf("count %q: not a non-negative number", s)
	}
	return int(v), false, nil
}

// ---------------------------------------------------------------------------------
// Marked records: squeue -O and sacct -p output built by this package.
// ---------------------------------------------------------------------------------

// Every field of a query this package builds is followed by a separator
// "\x1f" + mark + "\x1f", the mark being fresh random letters for each query (see
// NewRecordMark). Values can hold anything, the unit separator and line breaks
// included (job names and comments do, and their owners choose them): a record
// ends after its last field's separator, and fields are told apart by separators
// only, which no one can forge without knowing the mark.
// The parsers learn the separator from the first record, whose first field is a
// job id and cannot hold it.

// NewRecordMark returns a fresh random mark for one query's separator: 26
// letters and digits (crypto/rand, 130 bits). The mark is in the command line of
// the running query, which other users of the login node may read (ps); forging
// it would take reading it there and changing a job's name or comment before the
// command has loaded the queue.
func NewRecordMark() string { return rand.Text() }

func validRecordMark(m string) bool {
	if len(m) < 8 || len(m) > 64 {
		return false
	}
	for _, c := range m {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func recordSeparator(mark string) string { return "\x1f" + mark + "\x1f" }

// markedRecord is one record: its fields and the line it starts on.
type markedRecord struct {
	line   int
	fields []string
}

// splitMarkedRecords splits output into records of exactly nfields fields. It
// counts separators and never looks for line ends: a value may start or end with
// a line break (a job name "\n..." right after a separator), which only the
// separator count tells from the end of a record.
func splitMarkedRecords(cmd string, data []byte, nfields int) ([]markedRecord, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	i := bytes.IndexByte(data, 0x1f)
	if i < 0 {
		return nil, &ParseError{Command: cmd, Line: 1, Err: errors.New(`no field separator: not the output of a query this package built (unit separator + mark)`)}
	}
	j := bytes.IndexByte(data[i+1:], 0x1f)
	if j < 0 || !validRecordMark(string(data[i+1:i+1+j])) {
		return nil, &ParseError{Command: cmd, Line: 1, Err: errors.New(`no valid record mark after the first field`)}
	}
	sep := string(data[i : i+j+2])
	chunks := strings.Split(string(data), sep)
	// Every field is followed by sep and every record by "\n": the last chunk is
	// what follows the last record.
	tail := chunks[len(chunks)-1]
	chunks = chunks[:len(chunks)-1]
	var recs []markedRecord
	line := 1
	for len(chunks) > 0 {
		if len(recs) > 0 {
			rest, ok := strings.CutPrefix(chunks[0], "\n")
			if !ok {
				return nil, &ParseError{Command: cmd, Line: line, Err: fmt.Errorf("record does not start on a new line: %q", clipForError(chunks[0]))}
			}
			chunks[0] = rest
			line++
		}
		if len(chunks) < nfields {
			return nil, &ParseError{Command: cmd, Line: line, Err: fmt.Errorf("%d fields, want %d: output truncated or not ours", len(chunks), nfields)}
		}
		fields := chunks[:nfields:nfields]
		chunks = chunks[nfields:]
		if strings.Contains(fields[0], "\n") {
			return nil, &ParseError{Command: cmd, Line: line, Err: fmt.Errorf("first field %q holds a line break", clipForError(fields[0]))}
		}
		recs = append(recs, markedRecord{line: line, fields: fields})
		for _, f := range fields {
			line += strings.Count(f, "\n")
		}
	}
	if tail != "\n" && tail != "" {
		if strings.HasPrefix(tail, "\n") {
			line++
		}
		return nil, &ParseError{Command: cmd, Line: line, Err: fmt.Errorf("%q after the last record: output truncated or not ours", clipForError(tail))}
	}
	return recs, nil
}

// ---------------------------------------------------------------------------------
// scontrol's Key=Value records (show job/partition/node --oneliner).
// ---------------------------------------------------------------------------------

// scontrolRecord is one record of scontrol --oneliner output.
type scontrolRecord struct {
	line   int
	keys   []string          // in order of appearance
	fields map[string]string // first value of each key
}

func (r *scontrolRecord) get(k string) string { return r.fields[k] }

// scontrolSchema says how to read one kind of record.
type scontrolSchema struct {
	cmd      string
	first    string          // the key that starts a record: JobId, NodeName, ...
	known    map[string]bool // keys Slurm prints for this record (22.05 to current)
	freeText map[string]bool // keys whose values may hold spaces and "X=Y" text
}

func scontrolKeys(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// keyLike reports whether k looks like a key scontrol prints (NodeName,
// MCS_label, AllocNode:Sid, CPUs/Task, ReqB:S:C:T).
func keyLike(k string) bool {
	if k == "" || len(k) > 40 || !('A' <= k[0] && k[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == ':' || c == '/') {
			return false
		}
	}
	return true
}

// readScontrolRecords reads --oneliner records. A record starts at a line that
// begins with "<first>="; any other line continues the value before it (a comment
// or job name that held a line break). Within a record, fields are separated by
// spaces; a token "Key=..." starts a field when Key looks like a key, except
// inside a free-text value (JobName, Comment, OS, Reason, ...), where only keys
// Slurm is known to print for this record do. A known key that appears twice makes
// the record ambiguous (a value that imitates a field): an error, never a guess.
func readScontrolRecords(r io.Reader, s *scontrolSchema) ([]scontrolRecord, error) {
	data, err := readAllBounded(s.cmd, r)
	if err != nil {
		return nil, err
	}
	type raw struct {
		line int
		text strings.Builder
	}
	var raws []*raw
	prefix := s.first + "="
	for n, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, prefix) {
			rr := &raw{line: n + 1}
			rr.text.WriteString(l)
			raws = append(raws, rr)
			continue
		}
		if len(raws) == 0 {
			if strings.TrimSpace(l) == "" {
				continue
			}
			return nil, &ParseError{Command: s.cmd, Line: n + 1, Err: fmt.Errorf("want a record starting with %s=, got %q", s.first, clipForError(l))}
		}
		cur := raws[len(raws)-1]
		cur.text.WriteByte('\n')
		cur.text.WriteString(l)
	}
	recs := make([]scontrolRecord, 0, len(raws))
	for _, rr := range raws {
		rec, err := splitScontrolFields(rr.text.String(), s)
		if err != nil {
			return nil, &ParseError{Command: s.cmd, Line: rr.line, Err: err}
		}
		rec.line = rr.line
		recs = append(recs, rec)
	}
	return recs, nil
}

func splitScontrolFields(text string, s *scontrolSchema) (scontrolRecord, error) {
	rec := scontrolRecord{fields: map[string]string{}}
	text = strings.TrimRight(text, " \n")
	var cur string
	var val strings.Builder
	flush := func() error {
		if cur == "" {
			return nil
		}
		v := strings.TrimRight(val.String(), " \n")
		if _, dup := rec.fields[cur]; dup {
			if s.known[cur] {
				return fmt.Errorf("field %s appears twice: a value imitates a field, the record is ambiguous", cur)
			}
		} else {
			rec.keys = append(rec.keys, cur)
			rec.fields[cur] = v
		}
		val.Reset()
		return nil
	}
	for i, tok := range strings.Split(text, " ") {
		k, v, hasEq := strings.Cut(tok, "=")
		starts := hasEq && (s.known[k] || (keyLike(k) && !s.freeText[cur]))
		if i == 0 && !starts {
			return rec, fmt.Errorf("record starts with %q, not a key", clipForError(tok))
		}
		if starts {
			if err := flush(); err != nil {
				return rec, err
			}
			cur = k
			val.WriteString(v)
			continue
		}
		val.WriteByte(' ')
		val.WriteString(tok)
	}
	if err := flush(); err != nil {
		return rec, err
	}
	return rec, nil
}

func clipForError(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// slurmNull turns scontrol's "(null)", "N/A" and "None" into "".
func slurmNull(v string) string {
	switch v {
	case "(null)", "N/A", "None", "NONE", "n/a":
		return ""
	}
	return v
}

// scontrolList splits a comma list; "(null)" and "" give nil.
func scontrolList(v string) []string {
	v = slurmNull(strings.TrimSpace(v))
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}
