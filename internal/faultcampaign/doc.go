// Package faultcampaign is a seeded, randomized fault campaign for
// gwsync apply: it generates a random site and a random edit of it, applies
// the first to a simulated gateway, then applies the edit with one fault
// (sometimes a second one inside the rollback) injected by a
// man-in-the-middle transport or by killing the gwsync process, and judges
// the outcome by reading the simulated gateway's raw state file.
//
// The oracle shares no code with gwsync's own comparison: it reads the state
// file into generic maps, replaces server ids by the names they point to,
// drops moving fields and compares with the state a fault-free apply of the
// same edit reaches on a copy of the same starting state.
//
// The files are: generator.go (random sites and edits), mitm.go (the fault
// injecting transport), oracle.go (raw state, normalisation, comparison),
// runner.go (one trial), and campaign_test.go (the short and long runs).
package faultcampaign
