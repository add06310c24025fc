package nsapi

import (
	"strconv"
	"testing"
)

// TestMergeAfterAFailedPage: a page that fails half-way (here on a
// duplicate) has claimed some positions; a page still in flight that
// overlaps them is compared against what it claimed, and is an error or
// agrees, never a panic. (Pages overlap when the gateway returns more
// than the step; the pages of one list are merged concurrently.)
func TestMergeAfterAFailedPage(t *testing.T) {
	type item struct{ K string }
	items := func(from, to int) []item {
		var s []item
		for i := from; i < to; i++ {
			s = append(s, item{strconv.Itoa(i)})
		}
		return s
	}
	l := &lister[item, struct{}]{
		keys:  func(it *item) []string { return []string{it.K} },
		pages: map[int][]item{}, at: map[string]int{},
		total: 40, owner: make([]int32, 40),
	}
	r := get("/api/urdevices")
	if err := l.merge(r, 0, items(0, 10), 40); err != nil {
		t.Fatal(err)
	}
	long := items(10, 30)
	long[15] = item{"0"} // position 25 repeats position 0
	if err := l.merge(r, 10, long, 40); err == nil {
		t.Fatal("a page repeating an item of the first page merged without an error")
	}
	// Positions 10..24 are claimed by the failed page; this one overlaps them.
	if err := l.merge(r, 20, items(20, 30), 40); err != nil {
		t.Fatalf("an overlapping page that agrees with the claimed positions: %v", err)
	}
	other := items(20, 30)
	other[0] = item{"x"}
	if err := l.merge(r, 20, other, 40); err == nil {
		t.Fatal("an overlapping page that contradicts the claimed positions merged without an error")
	}
}
