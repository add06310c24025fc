package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/render"
)

// FirmwareCmd is `gwsync firmware`: the official firmware the gateway can
// fetch (spec 6.9, 6.10).
type FirmwareCmd struct {
	List FirmwareListCmd `cmd:"" help:"List the official firmware models and versions, as a site file's official: {model, version} names them."`
}

// FirmwareListCmd is `gwsync firmware list [--model M]`.
type FirmwareListCmd struct {
	Model      []string `name:"model" sep:"," placeholder:"MODEL" help:"Only these product models (otherwise every model of the data center, 6.9)."`
	DataCenter string   `name:"data-center" enum:"eu,us,cn,sg" default:"eu" help:"The vendor data center the gateway asks for its model list (6.9 dateCenter): eu, us, cn or sg."`
	Format     string   `name:"format" enum:"text,json" default:"text" help:"Output format: text or json."`
	Site       string   `name:"site" placeholder:"SITE" help:"Site file or directory for the connection settings (flags and GWSYNC_* variables otherwise)."`
	ConnFlags  `embed:""`
}

// FirmwareEntry is one official firmware as firmware list shows it.
type FirmwareEntry struct {
	Model                     string   `json:"model"`
	Version                   string   `json:"version"`
	Name                      string   `json:"name"`
	ID                        string   `json:"id"`
	HardwareVersion           string   `json:"hardwareVersion"`
	SupportMinHardwareVersion string   `json:"supportMinHardwareVersion"`
	SupportMinFirmwareVersion string   `json:"supportMinFirmwareVersion"`
	Size                      string   `json:"size"`
	FrequencyBands            []string `json:"frequencyBands"`
}

// Run lists the firmware.
func (c *FirmwareListCmd) Run(env *Env) error {
	ctx := context.Background()
	cl, closer, err := connectFor(ctx, env, c.Site, c.ConnFlags)
	if err != nil {
		return withExit(ExitError, err)
	}
	defer closer()
	models := c.Model
	if len(models) == 0 {
		if models, err = cl.OfficialModels(ctx, c.DataCenter); err != nil {
			return withExit(ExitError, fmt.Errorf("reading the official models (data center %s): %w", c.DataCenter, err))
		}
	}
	entries := []FirmwareEntry{}
	for _, m := range models {
		m = strings.TrimSpace(m)
		list, err := cl.OfficialFirmware(ctx, m, "")
		if err != nil {
			return withExit(ExitError, fmt.Errorf("model %s: reading its official firmware: %w", m, err))
		}
		if len(list) == 0 && len(c.Model) > 0 {
			fmt.Fprintf(env.Stderr, "warning: the gateway knows no official firmware for model %s\n", m)
		}
		for _, f := range list {
			entries = append(entries, firmwareEntry(&f))
		}
	}
	slices.SortStableFunc(entries, func(a, b FirmwareEntry) int {
		return cmpStrings(a.Model, b.Model, a.Version, b.Version, a.ID, b.ID)
	})
	var out bytes.Buffer
	if c.Format == "json" {
		js, err := json.MarshalIndent(struct {
			Firmware []FirmwareEntry `json:"firmware"`
		}{entries}, "", "  ")
		if err != nil {
			return withExit(ExitError, err)
		}
		out.Write(js)
		out.WriteString("\n")
	} else {
		writeFirmwareText(&out, entries)
		// Names and versions come from the gateway: shown inert.
		text := render.InertLines(out.String())
		out.Reset()
		out.WriteString(text)
	}
	if _, err := env.Stdout.Write(out.Bytes()); err != nil {
		return withExit(ExitError, err)
	}
	return nil
}

func firmwareEntry(f *nsapi.OfficialFirmware) FirmwareEntry {
	return FirmwareEntry{Model: f.Model, Version: f.FirmwareVersion, Name: f.Name, ID: string(f.ID),
		HardwareVersion: f.HardwareVersion, SupportMinHardwareVersion: f.SupportMinHardwareVersion,
		SupportMinFirmwareVersion: f.SupportMinFirmwareVersion, Size: string(f.Size),
		FrequencyBands: append([]string{}, f.FrequencyBands...)}
}

// cmpStrings compares pairs (a1, b1, a2, b2, …) in turn.
func cmpStrings(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

func writeFirmwareText(b *bytes.Buffer, entries []FirmwareEntry) {
	if len(entries) == 0 {
		b.WriteString("No official firmware.\n")
		return
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tVERSION\tNAME\tHARDWARE\tUPGRADES FROM\tSIZE\tBANDS\tID")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s (min %s)\t%s\t%s\t%s\t%s\n", e.Model, e.Version, e.Name, e.HardwareVersion,
			orDash(e.SupportMinHardwareVersion), orDash(e.SupportMinFirmwareVersion), orDash(e.Size), orDash(strings.Join(e.FrequencyBands, ",")), e.ID)
	}
	_ = tw.Flush()
	ambiguous := map[string]int{}
	for _, e := range entries {
		ambiguous[e.Model+"\x00"+e.Version]++
	}
	e := entries[len(entries)-1]
	fmt.Fprintf(b, "\nIn a site file: official: {model: %s, version: %s}", e.Model, e.Version)
	if ambiguous[e.Model+"\x00"+e.Version] > 1 {
		fmt.Fprintf(b, " and id: %q (more than one firmware has this version)", e.ID)
	}
	b.WriteString("\n")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
