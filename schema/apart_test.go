package schema

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v4"
)

var apartSeed = flag.Uint64("apart.seed", 0, "seed of TestDevicesApartAgrees (0: a new one)")

// validateBoth validates doc with the devices checked apart and within the
// document, and fails when the issues differ.
func validateBoth(t *testing.T, name string, doc []byte) int {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal(doc, &n); err != nil {
		return 0
	}
	c, err := get()
	if err != nil {
		t.Fatal(err)
	}
	apart, err1 := ValidateYAML(&n)
	c.devicesApart = false
	whole, err2 := ValidateYAML(&n)
	c.devicesApart = true
	if (err1 == nil) != (err2 == nil) {
		t.Fatalf("%s: errors differ: apart %v, whole %v", name, err1, err2)
	}
	if d := cmp.Diff(whole, apart); d != "" {
		t.Fatalf("%s: issues differ (-whole +apart):\n%s\n%s", name, d, doc)
	}
	return len(apart)
}

// TestDevicesApartAgrees: checking the devices one by one gives exactly the
// issues that checking the whole document gives, on every site file of the
// repository and on seeded random device lists full of mistakes.
func TestDevicesApartAgrees(t *testing.T) {
	c, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if !c.devicesApart {
		t.Fatal("the schema's devices list is not checked apart: the test would compare a path with itself")
	}
	for _, root := range []string{"../testdata", "../examples"} {
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				if b, err := os.ReadFile(p); err == nil {
					validateBoth(t, p, b)
				}
			}
			return nil
		})
	}
	seed := *apartSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (replay: go test ./schema -run TestDevicesApartAgrees -apart.seed %d)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 0))
	values := []string{`"24E1241234567890"`, `24E1241234567890`, `1234567890123456`, `"x"`, `12`, `-3`, `1.5`, `true`, `null`, `[]`,
		`{}`, `[1, 2]`, `{a: 1}`, `"000102030405060708090a0b0c0d0e0f"`, `${env:K}`, `"${file:k}"`, `ABP`, `OTAA`, `""`, `0x1F`, `.inf`, `yes`}
	fields := append(Properties("device"), "unknownField", "devEui", "x-note")
	found := 0
	for i := range 300 {
		var b strings.Builder
		b.WriteString("version: 1\ngateway:\n  eui: \"24E124FFFEF5A6A8\"\n")
		if r.IntN(4) == 0 {
			b.WriteString("devices: 12\n")
		} else {
			b.WriteString("devices:\n")
			for range 1 + r.IntN(8) {
				switch r.IntN(10) {
				case 0:
					b.WriteString("  - 7\n")
					continue
				case 1:
					b.WriteString("  - null\n")
					continue
				}
				b.WriteString("  -")
				nf := r.IntN(6)
				if nf == 0 {
					b.WriteString(" {}\n")
					continue
				}
				for k := range nf {
					if k > 0 {
						b.WriteString("   ")
					}
					fmt.Fprintf(&b, " %s: %s\n", fields[r.IntN(len(fields))], values[r.IntN(len(values))])
				}
			}
		}
		if r.IntN(3) == 0 {
			b.WriteString("profiles:\n  - name: p\n    rxFreq2: \"x\"\n")
		}
		if r.IntN(5) == 0 {
			b.WriteString("unknownTop: 1\n")
		}
		found += validateBoth(t, fmt.Sprintf("random site %d", i), []byte(b.String()))
	}
	if found < 300 {
		t.Errorf("the random sites gave %d issues in all: too few to compare the two ways", found)
	}
}
