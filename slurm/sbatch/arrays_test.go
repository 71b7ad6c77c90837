package sbatch

import (
	"fmt"
	"testing"
)

func TestArrayIndexes(t *testing.T) {
	for spec, want := range map[string][]int{
		"0-3":       {0, 1, 2, 3},
		"1-9:4%2":   {1, 5, 9},
		"7,3,3,1-2": {1, 2, 3, 7},
		"63-65":     {63, 64, 65},
		"1-3%10":    {1, 2, 3},
	} {
		got, err := ArrayIndexes(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ArrayIndexes(%q) = %v, want %v", spec, got, want)
		}
		n, _, _ := ArrayTasks(spec)
		if n != len(got) {
			t.Errorf("%q: %d indexes, ArrayTasks counts %d", spec, len(got), n)
		}
	}
	if _, err := ArrayIndexes("5-1"); err == nil {
		t.Error("a range ending before it starts was accepted")
	}
}
