package plan

import "maps"

// siteNames are, per kind, the wire fields (dotted, as a plan's objects
// hold them) that the site writes under another name: a task's startedAt
// is the site's startAt, fragmentInfo.fragmentSize its fragment.size. Text
// and markdown plans show the site's names; the JSON plan keeps the wire
// objects and maps each such field to its site name (site_fields).
var siteNames = map[Kind]map[string]string{
	KindTask: {
		"startedAt":                            "startAt",
		"deveui":                               "devices",
		"fragmentInfo.fragmentSize":            "fragment.size",
		"fragmentInfo.fragmentInterval":        "fragment.intervalMs",
		"fragmentInfo.fragmentRedundancy":      "fragment.redundancy",
		"tmpMcInfo.dr":                         "multicast.dr",
		"tmpMcInfo.frequency":                  "multicast.frequency",
		"tmpMcInfo.groupType":                  "multicast.groupType",
		"officialFirmwareInfo.model":           "official.model",
		"officialFirmwareInfo.firmwareVersion": "official.version",
		"officialFirmwareInfo.id":              "official.id",
	},
}

// SiteField is the site's name of a kind's wire field (dotted): the wire
// name itself when the site writes it the same.
func SiteField(k Kind, wire string) string {
	if s, ok := siteNames[k][wire]; ok {
		return s
	}
	return wire
}

// SiteFields maps each wire field of a kind that the site names otherwise
// to the site's name; nil when there is none.
func SiteFields(k Kind) map[string]string {
	if len(siteNames[k]) == 0 {
		return nil
	}
	return maps.Clone(siteNames[k])
}
