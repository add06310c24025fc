package applier

import (
	"math/rand"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gwsync/gwsync/nsapi"
)

// fill sets v (settable) to a random value from a small domain, so that
// two values drawn apart are sometimes equal; slices and maps are nil,
// empty or short.
func fill(rng *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Pointer:
		if depth > 6 || rng.Intn(3) == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(rng, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(rng, v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		switch n := rng.Intn(4); {
		case n == 0 || depth > 6:
			v.Set(reflect.Zero(v.Type()))
		default:
			s := reflect.MakeSlice(v.Type(), n-1, n-1)
			for i := 0; i < s.Len(); i++ {
				fill(rng, s.Index(i), depth+1)
			}
			v.Set(s)
		}
	case reflect.Map:
		switch n := rng.Intn(3); {
		case n == 0 || depth > 6:
			v.Set(reflect.Zero(v.Type()))
		default:
			m := reflect.MakeMap(v.Type())
			for i := 0; i < n-1; i++ {
				k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
				fill(rng, k, depth+1)
				fill(rng, e, depth+1)
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	case reflect.Bool:
		v.SetBool(rng.Intn(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(rng.Intn(3)))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(rng.Intn(3)))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(rng.Intn(3)) / 2)
	case reflect.String:
		v.SetString([]string{"", "a", "B"}[rng.Intn(3)])
	case reflect.Interface:
		if rng.Intn(2) == 0 {
			v.Set(reflect.ValueOf([]string{"", "x"}[rng.Intn(2)]))
		}
	}
}

// mutate changes one random leaf of v, or swaps a nil slice or map for an
// empty one (which must still compare equal).
func mutate(rng *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			fill(rng, v, depth)
			return
		}
		mutate(rng, v.Elem(), depth+1)
	case reflect.Struct:
		var fields []int
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fields = append(fields, i)
			}
		}
		if len(fields) > 0 {
			mutate(rng, v.Field(fields[rng.Intn(len(fields))]), depth+1)
		}
	case reflect.Slice:
		switch {
		case v.Len() == 0 && v.IsNil():
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		case v.Len() == 0:
			v.Set(reflect.Zero(v.Type()))
		default:
			mutate(rng, v.Index(rng.Intn(v.Len())), depth+1)
		}
	case reflect.Map:
		if v.Len() == 0 {
			if v.IsNil() {
				v.Set(reflect.MakeMap(v.Type()))
			} else {
				v.Set(reflect.Zero(v.Type()))
			}
			return
		}
		fill(rng, v, depth)
	default:
		fill(rng, v, depth)
	}
}

// deepCopy copies a State through reflection (slices and maps are new).
func deepCopy(v reflect.Value) reflect.Value {
	out := reflect.New(v.Type()).Elem()
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			p := reflect.New(v.Type().Elem())
			p.Elem().Set(deepCopy(v.Elem()))
			out.Set(p)
		}
	case reflect.Struct:
		out.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				out.Field(i).Set(deepCopy(v.Field(i)))
			}
		}
	case reflect.Slice:
		if !v.IsNil() {
			s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			for i := 0; i < v.Len(); i++ {
				s.Index(i).Set(deepCopy(v.Index(i)))
			}
			out.Set(s)
		}
	case reflect.Map:
		if !v.IsNil() {
			m := reflect.MakeMap(v.Type())
			it := v.MapRange()
			for it.Next() {
				m.SetMapIndex(it.Key(), deepCopy(it.Value()))
			}
			out.Set(m)
		}
	default:
		out.Set(v)
	}
	return out
}

// TestStatesEqualAgreesWithCmp checks the production equality against
// go-cmp with EquateEmpty (what decided before) on random states: pairs
// drawn apart, and copies with a few random changes, nil/empty swaps
// among them.
func TestStatesEqualAgreesWithCmp(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("GWSYNC_EQUAL_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	rng := rand.New(rand.NewSource(seed))
	var equal, differ int
	for i := 0; i < 1000; i++ {
		a, b := &nsapi.State{}, &nsapi.State{}
		fill(rng, reflect.ValueOf(a).Elem(), 0)
		if i%4 == 0 {
			fill(rng, reflect.ValueOf(b).Elem(), 0)
		} else {
			b = deepCopy(reflect.ValueOf(a)).Interface().(*nsapi.State)
			for n := rng.Intn(3); n > 0; n-- {
				mutate(rng, reflect.ValueOf(b).Elem(), 0)
			}
		}
		want := cmp.Equal(a, b, cmpopts.EquateEmpty())
		if got := statesEqual(a, b); got != want {
			t.Fatalf("seed %d (GWSYNC_EQUAL_SEED), pair %d: statesEqual = %v, cmp.Equal = %v\n%s", seed, i, got, want, cmp.Diff(a, b, cmpopts.EquateEmpty()))
		}
		if got := statesEqual(a.Canonical(), b.Canonical()); got != cmp.Equal(a.Canonical(), b.Canonical(), cmpopts.EquateEmpty()) {
			t.Fatalf("seed %d (GWSYNC_EQUAL_SEED), pair %d, canonical: statesEqual = %v, cmp.Equal disagrees", seed, i, got)
		}
		if want {
			equal++
		} else {
			differ++
		}
	}
	if equal < 100 || differ < 100 {
		t.Fatalf("seed %d: %d equal and %d differing pairs: the test compares too little of one side", seed, equal, differ)
	}
	t.Logf("seed %d: %d equal, %d differing pairs agree", seed, equal, differ)
}

func TestStatesEqualNilAndEmpty(t *testing.T) {
	a := &nsapi.State{Devices: nil}
	b := &nsapi.State{Devices: []nsapi.Device{}}
	if !statesEqual(a, b) {
		t.Error("a nil list differs from an empty one")
	}
	b.Devices = append(b.Devices, nsapi.Device{DevEUI: "x"})
	if statesEqual(a, b) {
		t.Error("a list of one equals an empty one")
	}
	if statesEqual(a, nil) || !statesEqual(nil, nil) {
		t.Error("nil states compare wrong")
	}
}
