package cli

import (
	"fmt"

	"github.com/gwsync/gwsync/schema"
)

// SchemaCmd is `gwsync schema`: it prints the site file JSON Schema, for
// editors (yaml-language-server) and other tools.
type SchemaCmd struct{}

// Run prints the schema to standard output.
func (c *SchemaCmd) Run(env *Env) error {
	if _, err := env.Stdout.Write(schema.JSON()); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	return nil
}
