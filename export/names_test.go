package export

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEnvName(t *testing.T) {
	for _, tc := range []struct {
		parts []string
		want  string
	}{
		{[]string{"DEV", "24e124136a456465", "APPKEY"}, "DEV_24E124136A456465_APPKEY"},
		{[]string{"GROUP", "street-lights", "mcNwkSKey"}, "GROUP_STREET_LIGHTS_MCNWKSKEY"},
		{[]string{"GROUP", "  a..b  c ", "mcAppSKey"}, "GROUP_A_B_C_MCAPPSKEY"},
		{[]string{"GROUP", "日本", "mcAppSKey"}, "GROUP_MCAPPSKEY"},
		{[]string{"GROUP", "-x-"}, "GROUP_X"},
	} {
		if got := envName(tc.parts...); got != tc.want {
			t.Errorf("envName(%q) = %q, want %q", tc.parts, got, tc.want)
		}
	}
}

func TestFileNames(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		safe       bool
	}{
		{"em300-th", "em300-th", true},
		{"a/b", "a-b", false},
		{"../../etc/passwd", "etc-passwd", false},
		{".hidden", "hidden", false},
		{"WT201 v1.4.bin", "WT201-v1.4.bin", true},
		{"日本", "codec", true},
		{"", "codec", false},
		{"a\\b", "a-b", false},
		{"c:x", "c-x", false},
		{"tab\there", "tab-here", false},
	} {
		if got := fileBase(tc.name, "codec"); got != tc.want {
			t.Errorf("fileBase(%q) = %q, want %q", tc.name, got, tc.want)
		}
		if got := safeFileName(tc.name); got != tc.safe {
			t.Errorf("safeFileName(%q) = %v, want %v", tc.name, got, tc.safe)
		}
	}
}

func TestUniq(t *testing.T) {
	u := newUniq("-")
	var got []string
	for _, n := range []string{"a", "A", "a", "b", "a-2"} {
		got = append(got, u.get(n, ".js"))
	}
	if diff := cmp.Diff([]string{"a.js", "A-2.js", "a-3.js", "b.js", "a-2-2.js"}, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

func TestMajority(t *testing.T) {
	for _, tc := range []struct {
		vals []string
		want string
	}{
		{nil, ""},
		{[]string{"a"}, ""}, // one device: no defaults
		{[]string{"a", "a"}, "a"},
		{[]string{"a", "b"}, ""}, // half is not most
		{[]string{"b", "a", "b"}, "b"},
		{[]string{"a", "b", "c", "a"}, ""},
		{[]string{"a", "b", "a", "a"}, "a"},
	} {
		if got := majority(tc.vals); got != tc.want {
			t.Errorf("majority(%q) = %q, want %q", tc.vals, got, tc.want)
		}
	}
}
