package cmdutil_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/sta-federation/sta-gateway/cmd/stacli/internal/cmdutil"
)

func TestTable(t *testing.T) {
	var b bytes.Buffer
	tb := cmdutil.NewTable(&b, "ID", "STATE", "REASON")
	tb.Row("j-1", "RUNNING", "")
	tb.Row("j-10", "PENDING", "tab\there\nnewline")
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "ID    STATE    REASON\nj-1   RUNNING  -\nj-10  PENDING  tab here newline\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := cmdutil.WriteJSON(&b, map[string]string{"a": "<b>"}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "{\n  \"a\": \"<b>\"\n}\n" {
		t.Errorf("%q", b.String())
	}
}

func TestFormatTime(t *testing.T) {
	if cmdutil.FormatTime(nil) != "" {
		t.Error("nil time")
	}
	tm := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	if got := cmdutil.FormatTime(&tm); got != "2026-01-02T02:04:05Z" {
		t.Errorf("%q, want UTC", got)
	}
}
