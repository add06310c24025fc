package site

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestSharedKeyLintLinear: when many devices share a key, loading grows
// linearly with them. Allocations are counted, not time: four times the
// devices may allocate about four times as much, never sixteen.
func TestSharedKeyLintLinear(t *testing.T) {
	allocs := func(n int) float64 {
		var sb strings.Builder
		sb.WriteString(benchHead + "devices:\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&sb, "  - devEUI: 24E1241%09X\n    name: d-%05d\n    appKey: ${env:K1}\n", i, i)
		}
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"site.yaml": sb.String()})
		var warned int
		a := testing.AllocsPerRun(1, func() {
			_, problems := Load(Options{LookupEnv: lookup(testEnv)}, filepath.Join(dir, "site.yaml"))
			warned = 0
			for _, p := range problems.Warnings() {
				if strings.Contains(p.Msg, fmt.Sprintf("and %d more; give every device", n-4)) {
					warned++
				}
			}
		})
		if warned != n {
			t.Fatalf("%d devices sharing a key: %d warnings name three others and %d more, want %d", n, warned, n-4, n)
		}
		return a
	}
	small, large := allocs(500), allocs(2000)
	if r := large / small; r > 6 {
		t.Errorf("4x the devices sharing a key allocate %.1fx as much (%.0f vs %.0f): the lint is not linear", r, large, small)
	}
}
