package main

import (
	"encoding/json"
	"net/http"
	"strings"
)

// serveMore serves the workflow runs of a commit:
// GET /repos/o/r/actions/runs?head_sha=SHA&event=E&status=S.
func (f *fakeGitHub) serveMore(w http.ResponseWriter, r *http.Request, parts []string) {
	if len(parts) != 5 || parts[3] != "actions" || parts[4] != "runs" || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	out := []map[string]any{}
	for _, run := range f.runs {
		if v := q.Get("head_sha"); v != "" && run["head_sha"] != v {
			continue
		}
		if v := q.Get("event"); v != "" && run["event"] != v {
			continue
		}
		if v := q.Get("status"); v != "" && run["conclusion"] != v && run["status"] != v {
			continue
		}
		if v := q.Get("branch"); v != "" && !strings.EqualFold(run["head_branch"].(string), v) {
			continue
		}
		out = append(out, run)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"total_count": len(out), "workflow_runs": out})
}
