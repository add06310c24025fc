package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"

	"github.com/gwsync/gwsync/fleet"
)

// FleetPlanFormat names the document `gwsync plan FLEETDIR --format json`
// prints: each site's plan digest, the record of what a fleet's review
// saw, which `gwsync apply FLEETDIR --reviewed FILE` holds every site to.
const FleetPlanFormat = "gwsync-fleet-plan"

// fleetPlan is that document.
type fleetPlan struct {
	Format        string          `json:"format"`
	FormatVersion string          `json:"format_version"`
	Fleet         string          `json:"fleet"`
	Shard         string          `json:"shard,omitempty"`
	Sites         []fleetPlanSite `json:"sites"`
}

// fleetPlanSite is one site's line of it. PlanDigest is the digest of the
// site's plan (plan.Plan.Digest), empty when the site could not be planned.
type fleetPlanSite struct {
	Site       string `json:"site"`
	Gateway    string `json:"gateway,omitempty"`
	Status     string `json:"status"`
	PlanDigest string `json:"plan_digest,omitempty"`
	Add        int    `json:"add"`
	Change     int    `json:"change"`
	Destroy    int    `json:"destroy"`
	Error      string `json:"error,omitempty"`
}

func (fp *fleetPlan) add(o siteOutcome) {
	s := fleetPlanSite{Site: o.res.Site, Gateway: o.res.Gateway, Status: string(o.res.Status),
		Add: o.res.Add, Change: o.res.Change, Destroy: o.res.Destroy}
	if o.code == ExitOK {
		s.PlanDigest = o.digest
	} else {
		s.Error = o.res.Detail
	}
	fp.Sites = append(fp.Sites, s)
}

func (fp *fleetPlan) write(w io.Writer) error {
	sort.Slice(fp.Sites, func(i, j int) bool { return fp.Sites[i].Site < fp.Sites[j].Site })
	b, err := json.MarshalIndent(fp, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// readFleetReview reads a fleet plan document saved from a review and
// returns each site's reviewed digest, for apply's approval of each site.
// A site of sites the document does not name, or names without a digest,
// is approved for nothing: apply refuses it.
func readFleetReview(path string, sites []fleet.Site) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--reviewed: %w", err)
	}
	var fp fleetPlan
	if err := json.Unmarshal(b, &fp); err != nil {
		return nil, fmt.Errorf("--reviewed %s: not a fleet plan (gwsync plan FLEETDIR --format json): %w", path, err)
	}
	if fp.Format != FleetPlanFormat {
		return nil, fmt.Errorf("--reviewed %s: format %q, want %q (gwsync plan FLEETDIR --format json)", path, fp.Format, FleetPlanFormat)
	}
	reviewed := map[string]string{}
	for i, s := range fp.Sites {
		if s.PlanDigest != "" && !digestRE.MatchString(s.PlanDigest) {
			return nil, fmt.Errorf("--reviewed %s: sites[%d] (%s): plan_digest %q is not sha256:<64 hex digits>", path, i, s.Site, s.PlanDigest)
		}
		if _, dup := reviewed[s.Site]; dup {
			return nil, fmt.Errorf("--reviewed %s: site %s is listed twice", path, s.Site)
		}
		reviewed[s.Site] = s.PlanDigest
	}
	approved := map[string]string{}
	for _, s := range sites {
		approved[s.Name] = reviewed[s.Name] // "" when not reviewed: refused
	}
	return approved, nil
}

// errReviewedSite is apply --reviewed on one site.
var errReviewedSite = errors.New("--reviewed takes a fleet; for one site, review a saved plan and apply it: gwsync plan SITE --out FILE, then gwsync apply FILE")
