package fleet

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
)

// Shard is one of N parts of a fleet: --shard I/N, 1 ≤ I ≤ N.
type Shard struct{ I, N int }

// ParseShard reads "I/N".
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return Shard{}, fmt.Errorf("shard %q: want I/N with 1 ≤ I ≤ N (--shard 2/4)", s)
	}
	return Shard{I: i, N: n}, nil
}

// Of is the shard (1…n) a site named name lands in: the FNV-1a hash of
// the name modulo n. It depends on the name only, so a site stays in its
// shard whatever other sites come and go, and every runner of a CI matrix
// computes the same split with no coordination.
func Of(name string, n int) int {
	if n <= 1 {
		return 1
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return int(h.Sum64()%uint64(n)) + 1
}

// Filter keeps the sites of shard sh.
func (sh Shard) Filter(sites []Site) []Site {
	if sh.N <= 1 {
		return sites
	}
	var out []Site
	for _, s := range sites {
		if Of(s.Name, sh.N) == sh.I {
			out = append(out, s)
		}
	}
	return out
}

// wave is one item of --wave: a count, a percentage of the fleet, or the
// rest.
type wave struct {
	count int
	pct   float64
	rest  bool
}

// Waves is a parsed --wave list.
type Waves []wave

// ParseWaves reads a --wave list: comma-separated counts ("1"),
// percentages of the sites ("10%") and "rest" (last only). "" is one wave
// of every site.
func ParseWaves(s string) (Waves, error) {
	if strings.TrimSpace(s) == "" {
		return Waves{{rest: true}}, nil
	}
	var ws Waves
	items := strings.Split(s, ",")
	for i, it := range items {
		it = strings.TrimSpace(it)
		switch {
		case it == "rest":
			if i != len(items)-1 {
				return nil, fmt.Errorf("wave %q: rest must be the last wave", s)
			}
			ws = append(ws, wave{rest: true})
		case strings.HasSuffix(it, "%"):
			p, err := strconv.ParseFloat(strings.TrimSuffix(it, "%"), 64)
			if err != nil || p <= 0 || p > 100 {
				return nil, fmt.Errorf("wave %q: %q: want a percentage above 0%% and at most 100%%", s, it)
			}
			ws = append(ws, wave{pct: p})
		default:
			n, err := strconv.Atoi(it)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("wave %q: %q: want a count ≥ 1, a percentage (10%%) or rest", s, it)
			}
			ws = append(ws, wave{count: n})
		}
	}
	return ws, nil
}

// Split splits n sites, in order, into waves: each wave's index range.
// A percentage is of n, rounded up, at least one site. Sites beyond the
// listed waves form one last wave (as if the list ended in rest); empty
// waves are left out.
func (ws Waves) Split(n int) [][2]int {
	var out [][2]int
	at := 0
	for _, w := range ws {
		if at >= n {
			break
		}
		size := n - at
		switch {
		case w.rest:
		case w.pct > 0:
			size = max(1, int(math.Ceil(float64(n)*w.pct/100-1e-9)))
		default:
			size = w.count
		}
		end := min(n, at+size)
		out = append(out, [2]int{at, end})
		at = end
	}
	if at < n {
		out = append(out, [2]int{at, n})
	}
	return out
}
