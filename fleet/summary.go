package fleet

import (
	"fmt"
	"io"
	"strings"
)

// Status is how a site ended.
type Status string

// The statuses of a site.
const (
	Valid      Status = "valid"
	Invalid    Status = "invalid"
	Unchanged  Status = "no changes"
	Changes    Status = "changes"
	Failed     Status = "failed"                   // an error before any write (plan, connect, apply refused)
	Applied    Status = "applied, verified"        // apply exit 0 with changes
	RolledBack Status = "rolled back, verified"    // apply exit 3
	Incomplete Status = "INCOMPLETE, journal kept" // apply exit 4
	Halted     Status = "not started (halted)"     // a wave before failed
)

// String is the status as the table shows it.
func (s Status) String() string { return string(s) }

// failed says whether s counts as a failure.
func (s Status) failed() bool {
	switch s {
	case Invalid, Failed, RolledBack, Incomplete:
		return true
	case Valid, Unchanged, Changes, Applied, Halted:
		return false
	}
	return false
}

// Result is one site's line in the summary.
type Result struct {
	Site    string
	Gateway string
	Wave    int // 1-based; 0 when not applied in waves
	Add     int
	Change  int
	Destroy int
	Status  Status
	// Detail is a one-line reason for a failure ("" when none).
	Detail string
}

// Counts are the numbers of the summary line.
type Counts struct {
	Sites, WithChanges, Unchanged, Failed, Halted int
}

// Count counts results: applied sites and sites with changes planned
// count as with changes.
func Count(rs []Result) Counts {
	c := Counts{Sites: len(rs)}
	for _, r := range rs {
		switch {
		case r.Status.failed():
			c.Failed++
		case r.Status == Halted:
			c.Halted++
		case r.Status == Changes || r.Status == Applied:
			c.WithChanges++
		default:
			c.Unchanged++
		}
	}
	return c
}

// Line is the summary line: "12 sites: 3 with changes, 8 unchanged, 1
// failed" (and ", 4 not started" after a halted wave).
func (c Counts) Line() string {
	s := fmt.Sprintf("%d sites: %d with changes, %d unchanged, %d failed", c.Sites, c.WithChanges, c.Unchanged, c.Failed)
	if c.Halted > 0 {
		s += fmt.Sprintf(", %d not started", c.Halted)
	}
	return s
}

// Table writes the summary table, as aligned text or as a markdown table.
// The wave column is shown when any result has a wave, the counts of
// changes unless every result is of validate.
func Table(w io.Writer, rs []Result, markdown bool) error {
	waves, counts := false, false
	for _, r := range rs {
		waves = waves || r.Wave > 0
		counts = counts || (r.Status != Valid && r.Status != Invalid)
	}
	head := []string{"SITE", "GATEWAY"}
	if waves {
		head = append(head, "WAVE")
	}
	if counts {
		head = append(head, "ADD", "CHANGE", "DESTROY")
	}
	head = append(head, "RESULT")
	rows := [][]string{head}
	for _, r := range rs {
		row := []string{r.Site, r.Gateway}
		if waves {
			row = append(row, fmt.Sprint(r.Wave))
		}
		res := r.Status.String()
		if r.Detail != "" {
			res += ": " + r.Detail
		}
		if counts {
			row = append(row, fmt.Sprint(r.Add), fmt.Sprint(r.Change), fmt.Sprint(r.Destroy))
		}
		row = append(row, res)
		rows = append(rows, row)
	}
	var b strings.Builder
	if markdown {
		for i, row := range rows {
			for j := range row {
				row[j] = strings.ReplaceAll(row[j], "|", `\|`)
			}
			if i == 0 {
				for j := range row {
					row[j] = strings.ToLower(row[j])
				}
			}
			b.WriteString("| " + strings.Join(row, " | ") + " |\n")
			if i == 0 {
				b.WriteString("|" + strings.Repeat("---|", len(row)) + "\n")
			}
		}
	} else {
		width := make([]int, len(head))
		for _, row := range rows {
			for j, c := range row[:len(row)-1] {
				width[j] = max(width[j], len([]rune(c)))
			}
		}
		for _, row := range rows {
			for j, c := range row {
				if j == len(row)-1 {
					b.WriteString(c)
					break
				}
				b.WriteString(c + strings.Repeat(" ", width[j]-len([]rune(c))+2))
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
