package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// AddJSONFlag adds --json to a command.
func AddJSONFlag(cmd *cobra.Command, v *bool) {
	cmd.Flags().BoolVar(v, "json", false, "Print JSON (stable: fields are only ever added; lists are arrays)")
}

// WantJSON says whether output should be JSON: --json, or format = "json"
// in the configuration.
func (f *Factory) WantJSON(flag bool) bool {
	if flag {
		return true
	}
	if f.Config == nil {
		return false
	}
	c, err := f.Config()
	return err == nil && c.Format == "json"
}

// WriteJSON writes v as indented JSON and a newline.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Table writes aligned columns for people.
type Table struct {
	tw *tabwriter.Writer
}

// NewTable starts a table with its header.
func NewTable(w io.Writer, header ...string) *Table {
	t := &Table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.Row(header...)
	return t
}

// Row adds a row; empty cells print as "-".
func (t *Table) Row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			c = "-"
		}
		// Tabs and newlines would break the alignment.
		c = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
		if i > 0 {
			fmt.Fprint(t.tw, "\t")
		}
		fmt.Fprint(t.tw, c)
	}
	fmt.Fprint(t.tw, "\n")
}

// Flush writes the table out.
func (t *Table) Flush() error { return t.tw.Flush() }

// FormatTime prints a time in UTC, "" for none.
func FormatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// FormatHours prints core-hours with two decimals.
func FormatHours(h float64) string { return fmt.Sprintf("%.2f", h) }
