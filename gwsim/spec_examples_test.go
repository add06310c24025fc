package gwsim

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSpecExamples sends the request bodies of the spec's own examples (a
// CN470 gateway, as the examples are) and expects them accepted, in both
// readings of the spec: the tables' URLs by default, the examples' own URLs
// (/deleteddevices, /api/payloadcodec for POST and PUT) in spec-examples
// mode. Only ids that cannot exist on a fresh gateway are replaced, and the
// codec example's blank name " " is given a name. The clock stands on the
// eve of the tasks' start, so that they are pending (6.2 status 0) and can
// be updated, as the 6.3 example does.
func TestSpecExamples(t *testing.T) {
	for _, mode := range []Quirks{QuirksTables, QuirksSpecExamples} {
		t.Run(string(mode)+"-mode", func(t *testing.T) { specExamples(t, mode) })
	}
}

func specExamples(t *testing.T, mode Quirks) {
	clk := newClock()
	clk.now = time.Date(2025, 4, 14, 12, 0, 0, 0, time.UTC)
	g := newGateway(t, Options{ChannelPlan: "CN470", Now: clk.Now, Quirks: mode})
	for _, e := range []string{"24e1247151234568", "24e124715123456b", "24e1247151234569", "24e124715123456a", "24E124136A456467"} {
		addDevice(t, g, e, "dev-"+e)
	}
	deleteDevices, codecWrite := "deletedevices", "/api/payloadcodecs"
	if mode == QuirksSpecExamples {
		deleteDevices, codecWrite = "deleteddevices", "/api/payloadcodec"
	}
	runSteps(t, g, []step{
		{name: "2.1", method: "POST", url: "/api/urprofiles", want: 200, save: "profileID", saveAs: "p", body: `{
    "name":"test",
    "profile":{
      "factoryPresetFreqs":[],
      "macVersion":"1.0.2", "maxEIRP":0, "regParamsRevision":"B", "rxDROffset1":0, "rxDataRate2":0,
      "rxFreq2":505300000, "supports32bitFCnt":true, "supportsClassB":true, "supportsClassC":true,
      "supportsJoin":true, "pingSlotPeriod":128, "pingSlotDR":2, "pingSlotFreq":508300000,
      "classBTimeout":10, "classCTimeout":10, "enableUplinkChannels":[]
    }}`},
		{name: "2.4", method: "PUT", url: "/api/urprofiles/{p}", want: 200, body: `{
    "name":"test",
    "profile":{
      "supportsClassB":true, "classBTimeout":10, "pingSlotPeriod":128, "pingSlotDR":2, "pingSlotFreq":508300000,
      "supportsClassC":true, "classCTimeout":10, "macVersion":"1.0.2", "regParamsRevision":"B", "rxDROffset1":0,
      "rxDataRate2":0, "rxFreq2":505300000, "factoryPresetFreqs":[], "maxEIRP":0, "supportsJoin":true,
      "supports32bitFCnt":true, "enableUplinkChannels":[]
    }}`},
		{name: "3.1", method: "POST", url: "/api/urdevices", want: 200, body: `{
    "name": "EM300", "description": "em300", "devEUI": "24E124136A456465", "profileID": "{p}",
    "fPort": 1, "skipFCntCheck": false, "appKey": "5572404c696e6b4c6f52613230313823",
    "applicationID": "1", "payloadCodecID": "1"}`},
		{name: "3.4", method: "PUT", url: "/api/urdevices/24E124136A456465", want: 200, body: `{
    "name": "EM300", "applicationID": "1", "description": "em300", "profileID": "{p}",
    "fCntUp": 0, "fCntDown": 0, "skipFCntCheck": false, "appKey": "5572404c696e6b4c6f52613230313823",
    "devAddr": "", "appSKey": "", "nwksKey": "", "mbMode": "", "mbFramePort": 0, "mbTcpPort": 0,
    "fPort":1, "payloadCodecID":"1"}`},
		{name: "4.1", method: "POST", url: "/api/multicast-groups", want: 200, save: "id", saveAs: "g", body: `{
    "multicastGroup":{
      "mcAddr":"11111111", "name":"group1", "mcNwkSKey":"5572404c696e6b4c6f52613230313823",
      "mcAppSKey":"5572404c696e6b4c6f52613230313823", "groupType":"CLASS_C", "fCnt":0, "dr":0,
      "pingSlotPeriod":128, "frequency":505300000}}`},
		{name: "4.2", method: "POST", url: "/api/multicast-groups/{g}/devices", want: 200, body: `{"devEUIs": ["24E124136A456467", "24E124136A456465"]}`},
		{name: "4.4", method: "POST", url: "/api/multicast-groups/{g}/" + deleteDevices, want: 200, body: `{"devEUIs":["24E124136A456467"]}`},
		{name: "4.5 all", method: "GET", url: "/api/multicast-groups?search=&order=asc&offset=0&limit=9999", want: 200},
		{name: "4.5 one", method: "GET", url: "/api/multicast-groups?search=group1&offset=0&limit=9999", want: 200},
		{name: "4.6", method: "PUT", url: "/api/multicast-groups/{g}", want: 200, body: `{
    "multicastGroup":{
      "name":"group2", "mcAddr":"11111111", "mcNwkSKey":"5572404c696e6b4c6f52613230313823",
      "mcAppSKey":"5572404c696e6b4c6f52613230313823", "fCnt":0, "groupType":"CLASS_C", "dr":0,
      "frequency":505300000, "pingSlotPeriod":128}}`},
		{name: "5.1", method: "POST", url: codecWrite, want: 200, save: "id", saveAs: "c", body: `{
    "name": "test", "description": "", "templateID": 0, "encoderScript": "test", "decoderScript": "test",
    "testEnabled": false, "fPort": 85, "codecJson": ""}`},
		{name: "5.3", method: "GET", url: "/api/payloadcodecs?limit=10&offset=0&type=custom", want: 200},
		{name: "5.3 short", method: "GET", url: "/api/payloadcodecs-short?limit=10&offset=0&type=custom", want: 200},
		{name: "5.4", method: "PUT", url: codecWrite + "/{c}", want: 200, body: `{
    "name": "test", "description": "", "templateID": 0, "encoderScript": "test", "decoderScript": "test",
    "testEnabled": false, "fPort": 85, "codecJson": ""}`},
		{name: "5.2", method: "DELETE", url: "/api/payloadcodecs/{c}", want: 200},
		{name: "6.1 local", method: "POST", url: "/api/fuota/task", want: 200, body: `{
    "fuotaTask": {
      "name": "Test", "startedAt": "2025-04-15T00:50:00.000Z", "description": "test",
      "deveui": ["24e1247151234568", "24e124715123456b"],
      "firmwareInfo": {"fileContent": "aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "firmwareName": "WT101.0000.0100.0101.bin"},
      "isOfficialFirmware": false,
      "fragmentInfo": {"fragmentSize": 88, "fragmentInterval": 5000, "fragmentRedundancy": 30},
      "tmpMcInfo": {"dr": 3, "frequency": 505300000}}}`},
		{name: "6.1 official", method: "POST", url: "/api/fuota/task", want: 200, body: `{
    "fuotaTask": {
      "name": "test", "startedAt": "2025-04-15T00:26:00.000Z", "description": "test",
      "deveui": ["24e1247151234569", "24e124715123456a"],
      "officialFirmwareInfo": {
        "id": "1888828394920153089", "model": "CT303", "name": "CT303 v1.4", "firmwareVersion": "v1.4",
        "hardwareVersion": "v1.0", "supportMinHardwareVersion": "v1.0", "supportMinFirmwareVersion": "v1.3",
        "url": "https://milesight-msc-cn-test-new.s3.cn-north-1.amazonaws.com.cn/firmware/system/280137a5-27d1-4c45-981e-96cf932ed5b1-1739166276.bin",
        "md5": "8f5c6beaf3ac56d829b178203fa9d610", "crc32": "d67cf42e", "size": "182581",
        "frequencyBands": ["ALL"], "firmwareNotesCn": "", "firmwareNotesEn": ""},
      "isOfficialFirmware": true,
      "fragmentInfo": {"fragmentSize": 88, "fragmentInterval": 5000, "fragmentRedundancy": 30},
      "tmpMcInfo": {"dr": 3, "frequency": 505300000}}}`},
		{name: "6.2", method: "GET", url: "/api/fuota/task?limit=10&offset=0", want: 200},
		{name: "6.3 local", method: "PUT", url: "/api/fuota/task", want: 200, body: `{
    "fuotaTask": {
      "id": 1, "name": "Test", "startedAt": "2025-04-15T00:50:00.000Z", "description": "test",
      "deveui": ["24e1247151234568", "24e124715123456b"],
      "firmwareInfo": {"fileContent": "aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "firmwareName": "WT101.0000.0100.0101.bin"},
      "isOfficialFirmware": false,
      "fragmentInfo": {"fragmentSize": 88, "fragmentInterval": 5000, "fragmentRedundancy": 30},
      "tmpMcInfo": {"dr": 3, "frequency": 505300000}}}`},
		{name: "6.3 once the task runs", method: "PUT", url: "/api/fuota/task", want: 10310014, before: func() { clk.Add(12*time.Hour + 51*time.Minute) }, body: `{"fuotaTask": {"id": 1, "name": "Test"}}`},
		{name: "6.5 (the tasks have succeeded, not failed)", before: func() { clk.Add(24 * time.Hour) }, method: "POST", url: "/api/fuota/task/retry", want: 10310014, body: `{"ids": [1, 2]}`},
		{name: "6.6", method: "GET", url: "/api/fuota/task/payloadsize", want: 200},
		{name: "6.7", method: "GET", url: "/api/fuota/devices?taskId=1&limit=10&offset=0", want: 200},
		{name: "6.8 local", method: "POST", url: "/api/fuota/devices/firmware", want: 200, body: `{
    "firmwareName": "test_firmware", "fileContent": "d2e1z6LXgt3N7UqWllpkKMnlqBfH4VQgcl74", "limit": 10, "offset": 0,
    "taskId": 0, "search": ""}`},
		{name: "6.8 official", method: "POST", url: "/api/fuota/devices/firmware", want: 200, body: `{
    "limit": 10, "offset": 0, "taskId": 0, "search": "",
    "officialFirmwareInfo": {"0": true, "id": "1888828394920153089", "model": "CT303", "name": "CT303 v1.4",
      "firmwareVersion": "v1.4", "hardwareVersion": "v1.0", "supportMinHardwareVersion": "v1.0",
      "supportMinFirmwareVersion": "v1.3", "url": "https://x", "md5": "8f5c6beaf3ac56d829b178203fa9d610",
      "crc32": "d67cf42e", "size": "182581", "frequencyBands": ["ALL"], "firmwareNotesCn": "", "firmwareNotesEn": ""}}`},
		{name: "6.9", method: "GET", url: "/api/fuota/official/models?dateCenter=sg", want: 200},
		{name: "6.10", method: "GET", url: "/api/fuota/official/firmware?model=model1&limit=10&offset=0", want: 200},
		{name: "6.4", method: "POST", url: "/api/fuota/task/delete", want: 200, body: `{"ids": [1, 2]}`},
		{name: "4.3", method: "DELETE", url: "/api/multicast-groups/{g}", want: 200},
		{name: "3.2", method: "DELETE", url: "/api/urdevices/24E124136A456465", want: 200},
		{name: "2.2", method: "DELETE", url: "/api/urprofiles/{p}", want: 200},
	})
	// The 6.6 answer for CN470 is the example's 46, 46, 46, 110, 237, 237
	// (and DR6).
	var ps struct {
		Map []struct{ DR, MaxPayloadSize int } `json:"maxPayloadSizeMap"`
	}
	_ = json.Unmarshal(mustOK(t, g, "GET", "/api/fuota/task/payloadsize", nil), &ps)
	var got []int
	for _, e := range ps.Map {
		got = append(got, e.MaxPayloadSize)
	}
	if d := cmp.Diff([]int{46, 46, 46, 110, 237, 237, 237}, got); d != "" {
		t.Errorf("CN470 payload sizes (-want +got):\n%s", d)
	}
}

func TestProfileListShape(t *testing.T) {
	g := newGateway(t, Options{ChannelPlan: "CN470"})
	addDevice(t, g, "24E124136A456465", "a")
	l := decode[map[string]any](t, mustOK(t, g, "GET", "/api/urprofiles?limit=1&offset=0", nil))
	want := map[string]any{
		"totalCount": "3", "disable": false, "channelPlan": "CN470",
		"result": []any{map[string]any{
			"profile": map[string]any{
				"profileID": profileIDClassA, "supportsClassB": false, "classBTimeout": 10.0, "pingSlotPeriod": 128.0,
				"pingSlotDR": 2.0, "pingSlotFreq": 508300000.0, "supportsClassC": false, "classCTimeout": 10.0,
				"macVersion": "1.0.2", "regParamsRevision": "B", "rxDROffset1": 0.0, "rxDataRate2": 0.0,
				"rxFreq2": 505300000.0, "factoryPresetFreqs": []any{}, "maxEIRP": 0.0, "maxDutyCycle": 0.0,
				"supportsJoin": true, "rfRegion": "China470", "supports32bitFCnt": true, "enableUplinkChannels": []any{},
			},
			"name": "ClassA-OTAA", "organizationID": "1", "networkServerID": "1", "using": true, "isDefault": true,
		}},
	}
	if d := cmp.Diff(want, l); d != "" {
		t.Errorf("profile list (-want +got):\n%s", d)
	}
}
