package slurm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sta-federation/sta-gateway/slurm"
)

func TestParseSbatchParsableRecorded(t *testing.T) {
	for _, site := range []string{"ca-hydro", "de-hpc"} {
		m := fxLoad(t, site)
		for key, id := range m.Jobs {
			got, cluster, err := slurm.ParseSbatchParsable(fxOpen(t, site, "sbatch-"+key, "out"))
			if err != nil || got != id {
				t.Errorf("%s/sbatch-%s: %q, %v; want %s", site, key, got, err, id)
			}
			// sbatch names the cluster only when it was given --clusters.
			if want := map[bool]string{true: "ca-hydro"}[key == "cluster-flag"]; cluster != want {
				t.Errorf("%s/sbatch-%s: cluster %q, want %q", site, key, cluster, want)
			}
		}
	}
}

func TestParseSbatchParsable(t *testing.T) {
	tests := []struct {
		out, id, cluster string
		ok               bool
	}{
		{"1234\n", "1234", "", true},
		{"1234", "1234", "", true},
		{"1234;ca-hydro\n", "1234", "ca-hydro", true},
		{"1234\r\n", "1234", "", true},
		{"", "", "", false},
		{"\n", "", "", false},
		{"Submitted batch job 1234\n", "", "", false},
		{"1234\n1235\n", "", "", false},
		{"0\n", "", "", false},
		{"01234\n", "", "", false},
		{"+1234\n", "", "", false},
		{"-1\n", "", "", false},
		{"99999999999\n", "", "", false},
		{"1234;\n", "", "", false},
		{"1234;a b\n", "", "", false},
		{"1234;ca;x\n", "", "", false},
		{strings.Repeat("1", 5000), "", "", false},
	}
	for _, tt := range tests {
		id, cluster, err := slurm.ParseSbatchParsable(strings.NewReader(tt.out))
		if (err == nil) != tt.ok || id != tt.id || cluster != tt.cluster {
			t.Errorf("ParseSbatchParsable(%q) = %q, %q, %v", tt.out, id, cluster, err)
		}
		var pe *slurm.ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Errorf("%q: %T is not a ParseError", tt.out, err)
		}
	}
}
