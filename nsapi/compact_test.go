package nsapi

import (
	"fmt"
	"reflect"
	"testing"
	"unsafe"
)

// TestCompactTakesEveryString: compact moves every string of a page into
// one buffer, so a field it forgot would keep the page's bytes alive. Every
// string field of the page's types (found by reflection) is set, and after
// compact each must hold its value and lie inside the one buffer.
func TestCompactTakesEveryString(t *testing.T) {
	var w deviceListWire
	w.DeviceResult = make([]deviceWire, 2)
	w.AppResult = make([]Application, 2)
	w.ProfileResult = make([]ProfileRef, 2)
	checkCompact(t, &w, w.compact)
}

// checkCompact sets every string field under target (a pointer; found by
// reflection, through slices and pointers to strings) to a value of its
// own, runs compact, and checks that each field holds its value and lies
// inside one buffer: a field compact forgot lies elsewhere.
func checkCompact(t *testing.T, target any, compact func()) {
	t.Helper()
	var want []string
	var ptrs []*string
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			s := fmt.Sprintf("value-%d", len(want))
			v.SetString(string([]byte(s))) // a separate allocation
			want = append(want, s)
			ptrs = append(ptrs, (*string)(unsafe.Pointer(v.UnsafeAddr())))
		case reflect.Pointer:
			if v.Type().Elem().Kind() == reflect.String {
				v.Set(reflect.New(v.Type().Elem()))
				fill(v.Elem())
			}
		case reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i))
			}
		case reflect.Slice:
			for i := range v.Len() {
				fill(v.Index(i))
			}
		}
	}
	fill(reflect.ValueOf(target).Elem())
	compact()
	lo, hi := uintptr(^uint(0)), uintptr(0)
	for _, p := range ptrs {
		a := uintptr(unsafe.Pointer(unsafe.StringData(*p)))
		lo, hi = min(lo, a), max(hi, a+uintptr(len(*p)))
	}
	total := 0
	for i, p := range ptrs {
		if *p != want[i] {
			t.Fatalf("field %d holds %q after compact, want %q", i, *p, want[i])
		}
		total += len(*p)
	}
	if int(hi-lo) != total {
		t.Errorf("the %d strings span %d bytes, want one buffer of %d: compact misses a field", len(ptrs), hi-lo, total)
	}
}
