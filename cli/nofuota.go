package cli

import (
	"fmt"

	"github.com/gwsync/gwsync/nsapi"
)

// taskReadError is the error of reading the FUOTA task list: on a gateway
// whose firmware predates FUOTA (code 21 to /api/fuota/task) it says so,
// rather than report an unsupported URL.
func taskReadError(err error) error {
	if nsapi.IsCode(err, nsapi.CodeUnsupportedURL) {
		return fmt.Errorf("the gateway has no FUOTA: it answers code %d (type or url not supported) to GET /api/fuota/task, as a firmware from before FUOTA support (such as 60.0.0.45) does: %w",
			nsapi.CodeUnsupportedURL, err)
	}
	return fmt.Errorf("reading the FUOTA tasks: %w", err)
}
