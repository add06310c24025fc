package nsapi

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// A gateway's lists are read page by page, and what the gateway says of
// them is checked rather than believed (SPEC-NOTES.md, "Paging"): the
// page size is the one the gateway keeps, whatever limit was asked; the
// total is followed and must not change from page to page; an identity
// (devEUI, profile id or name, group id, codec id, task id) listed twice is
// an error, never two actions on one record; a list body that is null, or
// of the wrong type, is an error; and the read ends, with an error unless
// exactly the total was read, when a page adds nothing, so that no gateway
// can make it loop. An error names the request that showed the problem.

// MaxListItems is the most items gwsync reads in one list: a gateway
// reporting a larger total is refused at its first page, before memory and
// requests are spent on it.
const MaxListItems = 1 << 17

// pageRequest is the request for one page of a paged list.
type pageRequest struct {
	method string // "GET" when empty
	url    string
	body   any // nil for none
}

// get is the pageRequest of a GET without a body.
func get(url string) pageRequest { return pageRequest{url: url} }

// ListError is the error of a list the gateway could not be read
// completely or consistently: it names the request (method and URL) whose
// answer showed it.
type ListError struct {
	Method, URL string
	Reason      string
}

func (e *ListError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Method, e.URL, e.Reason)
}

// listAll reads every page of a paged list whose page answer is an L: it
// asks request(limit, offset) for each page (through fb when not nil),
// hands each answer to seen (when not nil) with its offset, and returns
// items(answer) of every page in offset order. keys (may be nil) gives the
// identities of an item ("devEUI 24E1…"; "" is none): one given twice in
// the list is an error.
//
// The first page gives the total and the page size the gateway keeps (its
// length, whatever limit was asked); the pages at that step below the
// total are then read concurrently within the client's window, and any
// offsets they leave uncovered (a page shorter than the step) one page at
// a time. Every page must report the first page's total and bring at least
// one item; the read ends when the items read reach the total, and more or
// fewer is an error. So the requests are bounded by the total, itself at
// most MaxListItems. The result is never nil.
func listAll[T, L any](ctx context.Context, c *Client, fb *fallback,
	request func(limit, offset int) pageRequest,
	items func(*L) ([]T, FlexInt),
	seen func(offset int, page *L),
	keys func(*T) []string,
) ([]T, error) {
	l := &lister[T, L]{c: c, fb: fb, request: request, items: items, seen: seen, keys: keys,
		pages: map[int][]T{}, at: map[string]int{}}
	return l.run(ctx)
}

// lister is the state of one listAll. Items are held by position in the
// list (page offset + index): pages that overlap must agree on what lies
// where, and one identity at two positions is a duplicate. The pages are
// kept as they came; owner tells which page holds each position.
type lister[T, L any] struct {
	c       *Client
	fb      *fallback
	request func(limit, offset int) pageRequest
	items   func(*L) ([]T, FlexInt)
	seen    func(offset int, page *L)
	keys    func(*T) []string

	mu     sync.Mutex
	total  int64
	pages  map[int][]T    // offset → the page's items
	owner  []int32        // position → 1 + the offset of the page holding it; 0: none yet
	held   int64          // positions held
	at     map[string]int // identity → its position
	cursor int            // every position below it is held
}

// fetch reads the page at offset: its items and total, or an error that
// names the request. A body that is null, empty or not the list's object
// is an error.
func (l *lister[T, L]) fetch(ctx context.Context, offset int) (r pageRequest, got []T, total int64, err error) {
	r = l.request(l.c.cfg.PageSize, offset)
	if r.method == "" {
		r.method = "GET"
	}
	// The body decodes straight into the page; page stays nil when the
	// body is empty, null or "" (decodeBody decodes nothing then).
	var page *L
	if err := l.c.call(ctx, l.fb, r.method, r.url, r.body, &page); err != nil {
		if de, ok := errors.AsType[*decodeError](err); ok {
			return r, nil, 0, &ListError{r.method, r.url, "the answer's body is not a list page: " + de.err.Error()}
		}
		return r, nil, 0, err
	}
	if page == nil {
		return r, nil, 0, &ListError{r.method, r.url, "the answer's body is empty or null where a list belongs"}
	}
	got, t := l.items(page)
	if l.seen != nil {
		l.mu.Lock()
		l.seen(offset, page)
		l.mu.Unlock()
	}
	return r, got, int64(t), nil
}

// merge takes the page at offset in; a page that contradicts the others,
// or that is empty while the total is not reached, is an error. (In fill,
// a page that is not empty always adds the position asked for.)
func (l *lister[T, L]) merge(r pageRequest, offset int, got []T, total int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	fail := func(format string, args ...any) error {
		return &ListError{r.method, r.url, fmt.Sprintf(format, args...)}
	}
	if total != l.total {
		return fail("the total changed while the list was read (%d, then %d): the gateway's list changed, or its paging is broken; run again", l.total, total)
	}
	// The page is kept before its positions are claimed: a page that fails
	// half-way leaves the positions it claimed readable by the pages still
	// in flight, which compare against them.
	l.pages[offset] = got
	for i := range got {
		p := offset + i
		if int64(p) >= l.total {
			return fail("the gateway lists more items than the total it reports (%d)", l.total)
		}
		var ks []string
		if l.keys != nil {
			ks = l.keys(&got[i])
		}
		if o := l.owner[p]; o != 0 {
			// Overlapping pages: the same item must lie there.
			if prev := l.pages[int(o-1)][p-int(o-1)]; !reflect.DeepEqual(prev, got[i]) {
				return fail("item %d differs from what an earlier page listed there: the gateway's list changed, or its paging is broken; run again", p)
			}
			continue
		}
		for _, k := range ks {
			if k == "" {
				continue
			}
			if q, dup := l.at[k]; dup {
				return fail("%s is listed twice (items %d and %d): the gateway's paging is broken, or it holds a duplicate", k, q, p)
			}
			l.at[k] = p
		}
		l.owner[p] = int32(offset + 1)
		l.held++
	}
	for l.cursor < len(l.owner) && l.owner[l.cursor] != 0 {
		l.cursor++
	}
	if len(got) == 0 && l.held < l.total {
		return fail("the page is empty while %d of the %d items the gateway reports are unread: the gateway cannot be read completely", l.total-l.held, l.total)
	}
	return nil
}

func (l *lister[T, L]) run(ctx context.Context) ([]T, error) {
	r, first, total, err := l.fetch(ctx, 0)
	if err != nil {
		return nil, err
	}
	if total < 0 || total > MaxListItems {
		return nil, &ListError{r.method, r.url, fmt.Sprintf("the gateway reports %d items, outside what gwsync reads in one list (0 to %d)", total, MaxListItems)}
	}
	l.total = total
	l.owner = make([]int32, total)
	if total == 0 && len(first) == 0 {
		return []T{}, nil
	}
	if err := l.merge(r, 0, first, total); err != nil {
		return nil, err
	}
	if err := l.rest(ctx, len(first)); err != nil {
		return nil, err
	}
	if err := l.fill(ctx); err != nil {
		return nil, err
	}
	all := make([]T, l.total)
	for p, o := range l.owner {
		all[p] = l.pages[int(o-1)][p-int(o-1)]
	}
	return all, nil
}

// rest reads the pages at offsets step, 2·step, … below the total, at most
// the client's window at a time; the first error ends it.
func (l *lister[T, L]) rest(ctx context.Context, step int) error {
	var offsets []int
	for o := int64(step); o < l.total; o += int64(step) {
		offsets = append(offsets, int(o))
	}
	if len(offsets) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		next    int
		firstEr error
		wg      sync.WaitGroup
	)
	for range min(l.c.cfg.Window, len(offsets)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= len(offsets) || firstEr != nil {
					mu.Unlock()
					return
				}
				o := offsets[next]
				next++
				mu.Unlock()
				r, got, total, err := l.fetch(ctx, o)
				if err == nil {
					err = l.merge(r, o, got, total)
				}
				if err != nil {
					mu.Lock()
					if firstEr == nil {
						firstEr = err
						cancel()
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstEr
}

// fill reads, one page at a time, from the lowest position that no page
// covered (after a page shorter than the others), until the total is
// reached. Every page must add an item, so it ends.
func (l *lister[T, L]) fill(ctx context.Context) error {
	for l.held < l.total {
		gap := l.cursor
		r, got, total, err := l.fetch(ctx, gap)
		if err != nil {
			return err
		}
		if err := l.merge(r, gap, got, total); err != nil {
			return err
		}
	}
	return nil
}

// upperKey is the identity name+" "+upper-cased v, or "" when v is empty.
func upperKey(name, v string) string {
	if v == "" {
		return ""
	}
	return name + " " + strings.ToUpper(v)
}

// key is the identity name+" "+v, or "" when v is empty.
func key(name, v string) string {
	if v == "" {
		return ""
	}
	return name + " " + v
}
