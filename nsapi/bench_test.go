package nsapi_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// BenchmarkRoundTrip is one GET, client → embedded broker → simulated
// gateway → back.
func BenchmarkRoundTrip(b *testing.B) {
	c, _ := embedded(b, gwsim.Options{}, nsapi.Config{})
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.PayloadSizes(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWindow is 1,000 GETs (one op) through the embedded broker to a
// gateway that takes 20 ms to answer each, at window 1 and window 8.
func BenchmarkWindow(b *testing.B) {
	for _, window := range []int{1, 8} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) {
			c, _ := embedded(b, gwsim.Options{Latency: 20 * time.Millisecond}, nsapi.Config{Window: window, RequestTimeout: time.Minute})
			ctx := context.Background()
			for b.Loop() {
				var wg sync.WaitGroup
				errs := make(chan error, 1000)
				for range 1000 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := c.PayloadSizes(ctx); err != nil {
							errs <- err
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			}
		})
	}
}
