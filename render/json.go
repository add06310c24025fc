package render

import (
	"io"

	"github.com/gwsync/gwsync/plan"
)

// JSONPlan is the machine-readable plan: the plan document, the same one
// gwsync plan --out saves (see plan.Document). It follows Terraform's JSON
// plan format; secrets are digests.
type JSONPlan = plan.Document

// JSONOf builds the JSON plan of p.
func JSONOf(p *plan.Plan) (*JSONPlan, error) { return plan.DocumentOf(p) }

// JSON writes p as its indented plan document: byte for byte what
// plan.Save writes.
func JSON(w io.Writer, p *plan.Plan) error { return plan.Save(w, p) }
