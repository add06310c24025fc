package site

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

const benchDevices = 10000

// benchKeys gives every device its own key by ${env:…} reference.
func benchKeys() map[string]string {
	env := make(map[string]string, benchDevices)
	for i := 0; i < benchDevices; i++ {
		env[fmt.Sprintf("K%05d", i)] = fmt.Sprintf("%032x", i+1)
	}
	return env
}

func benchLoad(b *testing.B, files map[string]string, path string) {
	dir := b.TempDir()
	writeTree(b, dir, files)
	env := benchKeys()
	opts := Options{LookupEnv: lookup(env)}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, problems := Load(opts, filepath.Join(dir, path))
		if s == nil || len(problems) > 0 || len(s.Devices) != benchDevices {
			b.Fatalf("site loaded %v, %d problems: %v", s != nil, len(problems), problems[:min(3, len(problems))])
		}
	}
}

const benchHead = "version: 1\ngateway: {channelPlan: EU868}\ndeviceDefaults: {application: cloud, profile: ClassA-OTAA}\n"

// BenchmarkLoadYAML10k loads and checks a site of 10,000 devices in YAML.
func BenchmarkLoadYAML10k(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(benchHead + "devices:\n")
	for i := 0; i < benchDevices; i++ {
		fmt.Fprintf(&sb, "  - devEUI: \"24E1241%09X\"\n    name: em300-th-%05d\n    fPort: 85\n    appKey: ${env:K%05d}\n", i, i, i)
	}
	benchLoad(b, map[string]string{"site.yaml": sb.String()}, "site.yaml")
}

// BenchmarkLoadCSV10k loads and checks a site of 10,000 devices from CSV.
func BenchmarkLoadCSV10k(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("devEUI,name,fPort,appKey\n")
	for i := 0; i < benchDevices; i++ {
		fmt.Fprintf(&sb, "24E1241%09X,em300-th-%05d,85,${env:K%05d}\n", i, i, i)
	}
	benchLoad(b, map[string]string{"site.yaml": benchHead + "devicesFrom: devices.csv\n", "devices.csv": sb.String()}, "site.yaml")
}

// BenchmarkLoadSharedKeys10k loads a site of 10,000 devices where every
// hundred devices share one key: the shared-key lint warns once a device
// and must stay linear in the number of devices sharing a key.
func BenchmarkLoadSharedKeys10k(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(benchHead + "devices:\n")
	for i := 0; i < benchDevices; i++ {
		fmt.Fprintf(&sb, "  - devEUI: \"24E1241%09X\"\n    name: em300-th-%05d\n    appKey: ${env:K%05d}\n", i, i, i%100)
	}
	dir := b.TempDir()
	writeTree(b, dir, map[string]string{"site.yaml": sb.String()})
	opts := Options{LookupEnv: lookup(benchKeys())}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, problems := Load(opts, filepath.Join(dir, "site.yaml"))
		if s == nil || len(problems.Warnings()) != benchDevices {
			b.Fatalf("site loaded %v, %d warnings, want one a device", s != nil, len(problems.Warnings()))
		}
	}
}

// BenchmarkLoadOneKey10k: all 10,000 devices share one key.
func BenchmarkLoadOneKey10k(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(benchHead + "devices:\n")
	for i := 0; i < benchDevices; i++ {
		fmt.Fprintf(&sb, "  - devEUI: \"24E1241%09X\"\n    name: em300-th-%05d\n    appKey: ${env:K00000}\n", i, i)
	}
	dir := b.TempDir()
	writeTree(b, dir, map[string]string{"site.yaml": sb.String()})
	opts := Options{LookupEnv: lookup(benchKeys())}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, problems := Load(opts, filepath.Join(dir, "site.yaml"))
		if s == nil || len(problems.Warnings()) != benchDevices {
			b.Fatalf("site loaded %v, %d warnings, want one a device", s != nil, len(problems.Warnings()))
		}
	}
}

// BenchmarkLoadKeyFiles10k loads a site of 10,000 devices whose keys are
// ${file:…} references, one file each: every one is read inside the
// site's folder.
func BenchmarkLoadKeyFiles10k(b *testing.B) {
	files := map[string]string{}
	var sb strings.Builder
	sb.WriteString(benchHead + "devices:\n")
	for i := 0; i < benchDevices; i++ {
		fmt.Fprintf(&sb, "  - devEUI: \"24E1241%09X\"\n    name: em300-th-%05d\n    appKey: ${file:keys/%05d.key}\n", i, i, i)
		files[fmt.Sprintf("keys/%05d.key", i)] = fmt.Sprintf("%032x\n", i+1)
	}
	files["site.yaml"] = sb.String()
	benchLoad(b, files, "site.yaml")
}
