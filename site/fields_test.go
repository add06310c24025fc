package site

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/gwsync/gwsync/schema"
)

// TestTablesCoverSchema: every field the schema knows for an object has a
// row in its table, and every row is a field the schema knows.
func TestTablesCoverSchema(t *testing.T) {
	for def, table := range map[string][]row{
		"profile":        rows(profileFields),
		"codec":          rows(codecFields),
		"device":         rows(deviceFields),
		"multicastGroup": rows(groupFields),
		"firmwareUpdate": rows(taskFields),
	} {
		var keys []string
		for _, r := range table {
			keys = append(keys, r.key)
		}
		slices.Sort(keys)
		if want := schema.Properties(def); !slices.Equal(keys, want) {
			t.Errorf("%s: table has %v, the schema %v", def, keys, want)
		}
	}
}

// goodValue is a value of the kind, written as YAML; upper-case kinds are
// given in lower case, to see them kept in upper case.
func goodValue(r row) string {
	switch r.kind {
	case kString, kStrPtr:
		return "some-text"
	case kUpper:
		return "ab12cd"
	case kInt, kIntPtr:
		return "7"
	case kBool, kBoolPtr:
		return "true"
	case kInts:
		return "[1, 2]"
	case kUpperList:
		return "[ab12cd]"
	case kSecret:
		return "${env:K1}"
	case kPath:
		return "fw/a.bin"
	case kScript:
		return "s.js"
	case kObject:
		var kv []string
		for _, s := range r.sub {
			kv = append(kv, s.key+": "+goodValue(s))
		}
		return "{" + strings.Join(kv, ", ") + "}"
	}
	panic(fmt.Sprintf("no value for kind %d", r.kind))
}

// badValue is a value of another kind, and the message it gets.
func badValue(r row) (string, string) {
	switch r.kind {
	case kString, kUpper, kStrPtr, kSecret, kPath:
		return "[1]", "must be a string, not a list"
	case kInt, kIntPtr:
		return "abc", `must be an integer, not "abc"`
	case kBool, kBoolPtr:
		return "3", "must be true or false, not 3"
	case kInts, kUpperList:
		return "x", `must be a list, not "x"`
	case kObject:
		return "5", "must be a mapping, not 5"
	}
	return "", ""
}

const scriptText = "function decode() { return 42 }"

// TestEveryRowDecodes: for every row of every table, a key written at a
// random line and column lands in the model (at that position, where the
// model keeps it), and a value of the wrong kind is reported there.
func TestEveryRowDecodes(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d", seed)
		}
	})
	checkTable(t, rng, "gateway", gatewayFields)
	checkTable(t, rng, "connection", connectionFields)
	checkTable(t, rng, "prune", pruneFields)
	checkTable(t, rng, "profile", profileFields)
	checkTable(t, rng, "codec", codecFields)
	checkTable(t, rng, "device", deviceFields)
	checkTable(t, rng, "deviceDefaults", deviceDefaultFields)
	checkTable(t, rng, "multicastGroup", groupFields)
	checkTable(t, rng, "firmwareUpdate", taskFields)
	checkTable(t, rng, "official", officialFields)
	checkTable(t, rng, "fragment", fragmentFields)
	checkTable(t, rng, "multicast", multicastFields)
}

// decodeOne writes `obj:` holding key: value at a random place, and
// decodes obj with the table. It returns where the value stands.
func decodeOne[T any](t *testing.T, rng *rand.Rand, table []field[T], key, val string) (*T, *loader, Pos) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.js"), []byte(scriptText), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "site.yaml")
	var sb strings.Builder
	line := 1
	for range rng.IntN(4) {
		sb.WriteString([]string{"\n", "# a comment\n", "other: 1\n"}[rng.IntN(3)])
		line++
	}
	indent := strings.Repeat(" ", 1+rng.IntN(6))
	gap := strings.Repeat(" ", 1+rng.IntN(3))
	sb.WriteString("obj:\n")
	line++
	for range rng.IntN(3) {
		sb.WriteString(indent + "unknownField: 1\n")
		line++
	}
	// Lines after the first of val are more fields of obj.
	fmt.Fprintf(&sb, "%s%s:%s%s\n", indent, key, gap, strings.ReplaceAll(val, "\n", "\n"+indent))
	at := Pos{File: file, Line: line, Col: len(indent) + len(key) + 1 + len(gap) + 1}
	if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(sb.String()), &doc); err != nil {
		t.Fatalf("%v in\n%s", err, sb.String())
	}
	l := newLoader(Options{})
	root := l.newMapping(file, "", doc.Content[0])
	m := root.child("obj")
	if m == nil {
		t.Fatalf("obj is not a mapping in\n%s", sb.String())
	}
	dst := new(T)
	decodeFields(l, m, dst, table)
	return dst, l, at
}

func checkTable[T any](t *testing.T, rng *rand.Rand, name string, table []field[T]) {
	for _, f := range table {
		r := row{key: f.key, kind: f.kind, sub: f.sub}
		t.Run(name+"."+f.key, func(t *testing.T) {
			dst, l, at := decodeOne(t, rng, table, f.key, goodValue(r))
			if len(l.probs) > 0 {
				t.Fatalf("problems: %v", l.probs)
			}
			if reflect.ValueOf(dst).Elem().IsZero() {
				t.Fatalf("%s: %s left the model as it was", f.key, goodValue(r))
			}
			// The value lands in the field of the key's name (a script
			// file's in its inline field's), and nowhere else but where
			// the position is kept.
			name := f.key
			if f.kind == kScript {
				name = f.inline
			}
			posName := ""
			if f.at != nil {
				posName = "Pos"
				if _, ok := reflect.TypeFor[T]().FieldByNameFunc(func(n string) bool { return strings.EqualFold(n, f.key+"Pos") }); ok {
					posName = f.key + "Pos"
				}
			}
			v := reflect.ValueOf(dst).Elem()
			for i := range v.NumField() {
				fn := v.Type().Field(i).Name
				want := strings.EqualFold(fn, name) || strings.EqualFold(fn, posName)
				if got := !v.Field(i).IsZero(); got != want {
					t.Errorf("%s: field %s set %v, want %v", f.key, fn, got, want)
				}
			}
			got := fmt.Sprintf("%+v", *dst)
			switch f.kind {
			case kUpper, kUpperList:
				if !strings.Contains(got, "AB12CD") {
					t.Errorf("%s: want AB12CD in %s", f.key, got)
				}
			case kPath:
				if want := filepath.Join(filepath.Dir(at.File), "fw", "a.bin"); !strings.Contains(got, want) {
					t.Errorf("%s: want %s in %s", f.key, want, got)
				}
			case kScript:
				if !strings.Contains(got, scriptText) {
					t.Errorf("%s: want the script's text in %s", f.key, got)
				}
			case kSecret:
				sec := findSecret(reflect.ValueOf(dst).Elem())
				if sec == nil || sec.Ref != "${env:K1}" || sec.Pos != at {
					t.Errorf("%s: secret %+v, want ref ${env:K1} at %v", f.key, sec, at)
				}
			}
			if f.at != nil {
				if p := *f.at(dst); p != at {
					t.Errorf("%s: position %v, want %v", f.key, p, at)
				}
			}

			bad, msg := badValue(r)
			if f.kind == kScript {
				// A script file is refused beside its inline field.
				_, l, at := decodeOne(t, rng, table, f.key, goodValue(r)+"\n"+f.inline+": x")
				wantProblem(t, l, at, "obj."+f.key, fmt.Sprintf("give %s or %s, not both", f.inline, f.key))
				return
			}
			_, l, at = decodeOne(t, rng, table, f.key, bad)
			wantProblem(t, l, at, "obj."+f.key, msg)
		})
	}
}

func wantProblem(t *testing.T, l *loader, at Pos, path, msg string) {
	t.Helper()
	for _, p := range l.probs {
		if p.File == at.File && p.Line == at.Line && p.Col == at.Col && p.Path == path && p.Msg == msg {
			return
		}
	}
	t.Errorf("want %s:%d:%d %s: %s; got %v", at.File, at.Line, at.Col, path, msg, l.probs)
}

// findSecret is the first Secret with a value in v.
func findSecret(v reflect.Value) *Secret {
	for i := range v.NumField() {
		if s, ok := v.Field(i).Interface().(Secret); ok && s.Value != "" {
			return &s
		}
	}
	return nil
}

// TestDeviceRowsPositions: a device giving every field of the device
// table, in a random order, has each field's position (Device.Fields) at
// its file, line and column, from YAML and from CSV alike.
func TestDeviceRowsPositions(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 2))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d", seed)
		}
	})
	order := rows(deviceFields)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	dir := t.TempDir()
	var sb, header, cells strings.Builder
	sb.WriteString("version: 1\ndevicesFrom: d.csv\ndevices:\n")
	want := map[string]Pos{}
	wantCSV := map[string]Pos{}
	file, csvFile := filepath.Join(dir, "site.yaml"), filepath.Join(dir, "d.csv")
	for i, r := range order {
		lead := "    "
		if i == 0 {
			lead = "  - "
		}
		val := goodValue(r)
		fmt.Fprintf(&sb, "%s%s: %s\n", lead, r.key, val)
		want[r.key] = Pos{File: file, Line: 4 + i, Col: len(lead) + len(r.key) + 3}
		if i > 0 {
			header.WriteString(",")
			cells.WriteString(",")
		}
		header.WriteString(r.key)
		wantCSV[r.key] = Pos{File: csvFile, Line: 2, Col: cells.Len() + 1}
		cells.WriteString(strings.Trim(val, "[]"))
	}
	writeTree(t, dir, map[string]string{"site.yaml": sb.String(), "d.csv": header.String() + "\n" + cells.String() + "\n"})
	l := newLoader(Options{LookupEnv: lookup(testEnv)})
	l.loadFile(file)
	for _, c := range l.csvs {
		l.loadCSV(c)
	}
	l.fieldPositions()
	if len(l.site.Devices) != 2 {
		t.Fatalf("%d devices, want 2; problems %v", len(l.site.Devices), l.probs)
	}
	for i, w := range []map[string]Pos{want, wantCSV} {
		d := l.site.Devices[i]
		for k, p := range w {
			if got, ok := d.At(k); !ok || got.Pos != p {
				t.Errorf("device %d: %s at %v, want %v", i, k, got.Pos, p)
			}
		}
		if len(d.Fields) != len(w) {
			t.Errorf("device %d: %d fields, want %d", i, len(d.Fields), len(w))
		}
		if d.DevEUI != "AB12CD" || d.FPort == nil || *d.FPort != 7 || d.AppKey.Ref != "${env:K1}" || d.AppKey.Pos != w["appKey"] {
			t.Errorf("device %d: devEUI %q, fPort %v, appKey ref %q at %v", i, d.DevEUI, d.FPort, d.AppKey.Ref, d.AppKey.Pos)
		}
	}
}
