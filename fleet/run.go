package fleet

import "sync"

// Run calls work for items 0…n-1, jobs at a time, and emit with each
// result in item order, as soon as that item and every item before it
// have ended: output streams in a stable order while only the results
// that ran ahead are held. emit runs on the caller's goroutine.
func Run[R any](n, jobs int, work func(i int) R, emit func(i int, r R)) {
	if jobs < 1 {
		jobs = 1
	}
	type done struct {
		i int
		r R
	}
	next := make(chan int)
	results := make(chan done, jobs)
	var wg sync.WaitGroup
	for w := 0; w < min(jobs, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results <- done{i, work(i)}
			}
		}()
	}
	go func() {
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		close(results)
	}()
	held := map[int]R{}
	at := 0
	for d := range results {
		held[d.i] = d.r
		for {
			r, ok := held[at]
			if !ok {
				break
			}
			delete(held, at)
			emit(at, r)
			at++
		}
	}
}
