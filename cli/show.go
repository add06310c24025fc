package cli

import (
	"bytes"
	"fmt"

	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/render"
)

// ShowCmd is `gwsync show PLANFILE`: a saved plan (gwsync plan --out, or
// the output of plan --format json: the same document) as text, markdown
// or its JSON document. It reads no gateway and needs no secret.
type ShowCmd struct {
	PlanFile string `arg:"" name:"planfile" type:"existingfile" help:"A plan saved with gwsync plan --out (or printed by plan --format json)."`
	Format   string `name:"format" enum:"text,markdown,json" default:"text" help:"Output format: text, markdown (a pull-request comment) or json (the plan document)."`
	JSON     bool   `name:"json" help:"Same as --format json."`
	NoColor  bool   `name:"no-color" help:"No colours, even on a terminal (NO_COLOR works too)."`
}

// Run loads the plan and prints it.
func (c *ShowCmd) Run(env *Env) error {
	b, err := readPlanFile(c.PlanFile)
	if err != nil {
		return withExit(ExitError, err)
	}
	p, err := plan.Load(bytes.NewReader(b))
	if err != nil {
		return withExit(ExitError, fmt.Errorf("%s: %w", c.PlanFile, err))
	}
	format := c.Format
	if c.JSON {
		format = "json"
	}
	var out bytes.Buffer
	switch format {
	case "markdown":
		err = render.Markdown(&out, p, 0)
	case "json":
		err = render.JSON(&out, p)
	default:
		color := env.IsTerminal && env.Getenv("NO_COLOR") == "" && !c.NoColor
		err = render.Text(&out, p, render.TextOptions{Color: color})
	}
	if err != nil {
		return withExit(ExitError, err)
	}
	if _, err := env.Stdout.Write(out.Bytes()); err != nil {
		return withExit(ExitError, err)
	}
	return nil
}
