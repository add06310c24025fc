package cli

import (
	"fmt"

	"github.com/gwsync/gwsync/gwsim"
)

// simClientQuirks are the `gwsync sim` flags of gateway behaviours that a
// client must doubt (gwsim/hostile.go, nsapi/SPEC-NOTES.md "Paging"): for
// testing clients, off by default.
type simClientQuirks struct {
	PageCap         int    `name:"page-cap" placeholder:"N" help:"Answer at most N items per list page, whatever limit asks (for testing clients)."`
	NumericIDs      bool   `name:"numeric-ids" help:"Echo request ids as JSON numbers, a non-integer id as 0 (for testing clients)."`
	SearchNamesOnly bool   `name:"search-names-only" help:"Match device searches against names only, not EUIs (for testing clients)."`
	Paging          string `default:"honest" enum:"honest,repeat,overlap,null-body" placeholder:"MODE" help:"Answer list pages honestly, or in a hostile way: repeat the first page with a total of 50,000, show one item on two pages, or answer a null body (for testing clients)."`
}

// apply sets the quirks on opts.
func (q simClientQuirks) apply(opts *gwsim.Options) error {
	if q.PageCap < 0 {
		return fmt.Errorf("--page-cap %d: want 0 (no cap) or more", q.PageCap)
	}
	p, err := gwsim.ParsePagingQuirk(q.Paging)
	if err != nil {
		return fmt.Errorf("--paging: %w", err)
	}
	opts.PageCap, opts.NumericIDs, opts.SearchNamesOnly, opts.Paging = q.PageCap, q.NumericIDs, q.SearchNamesOnly, p
	return nil
}
