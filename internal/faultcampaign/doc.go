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
//
// Running it:
//
//	go test ./internal/faultcampaign                        # the short run (60 trials)
//	go test ./internal/faultcampaign -run TestCampaign -v \
//	    -campaign.trials=1000 -campaign.seed=BASE          # a long run, with its table
//	go test ./internal/faultcampaign -run TestCampaign -v \
//	    -campaign.trials=200 -campaign.kind=sigkill-apply  # one fault kind
//	go test ./internal/faultcampaign -run TestCampaign \
//	    -campaign.seed=12345 -v                            # replay one trial
//
// A seed decides everything of a trial: the sites, the edit, the fault
// kind, the parallelism (1 or applier.DefaultParallelism), the gateway's
// quirks and where the fault strikes. The SIGKILL kinds run the gwsync
// binary (built once by TestMain) against gwsim's embedded broker; the
// other kinds run gwsync's own commands in-process (cli.Run on a sim://
// gateway) with the MITM in front of their connections (Env.WrapTransport),
// so that the exit code judged is the one a user sees.
package faultcampaign
