package nsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// wireTarget is one type a gateway's answer is decoded into, as the
// client decodes it: the envelope into an envelope value, a list page
// into a *L (lister.fetch), the answer of a create into its struct.
type wireTarget struct {
	name   string
	decode func(unmarshal func([]byte, any) error, b []byte) (any, error)
}

// into is a target decoded as decodeBody decodes a non-list answer.
func into[T any](name string) wireTarget {
	return wireTarget{name, func(unmarshal func([]byte, any) error, b []byte) (any, error) {
		var v T
		err := unmarshal(b, &v)
		return v, err
	}}
}

// page is a target decoded as lister.fetch decodes a page: into a nil *L.
func page[L any](name string) wireTarget {
	return wireTarget{name, func(unmarshal func([]byte, any) error, b []byte) (any, error) {
		var p *L
		err := unmarshal(b, &p)
		return p, err
	}}
}

var wireTargets = []wireTarget{
	into[envelope]("envelope"),
	page[deviceListWire]("deviceListWire"),
	page[ProfileList]("ProfileList"),
	page[MulticastGroupList]("MulticastGroupList"),
	page[CodecList]("CodecList"),
	page[CodecShortList]("CodecShortList"),
	page[FuotaTaskList]("FuotaTaskList"),
	page[FuotaDeviceList]("FuotaDeviceList"),
	page[OfficialFirmwareList]("OfficialFirmwareList"),
	into[PayloadSizeList]("PayloadSizeList"),
	into[OfficialModels]("OfficialModels"),
	into[struct {
		ProfileID string `json:"profileID"`
	}]("created profile"),
	into[struct {
		ID FlexString `json:"id"`
	}]("created group or codec"),
	into[struct {
		ID FlexInt `json:"id"`
	}]("created task"),
	into[DeviceList]("DeviceList"),
	into[Device]("Device"),
	into[FuotaTask]("FuotaTask"),
	into[ErrorBody]("ErrorBody"),
}

// checkWireDecode decodes b into the target with encoding/json and with
// unmarshalWire and requires the same success or failure and, on
// success, the same value. b must be left as it was.
func checkWireDecode(t *testing.T, tg wireTarget, b []byte) {
	t.Helper()
	orig := bytes.Clone(b)
	want, wantErr := tg.decode(json.Unmarshal, b)
	got, err := tg.decode(unmarshalWire, b)
	if !bytes.Equal(b, orig) {
		t.Fatalf("%s %q: the input was changed to %q", tg.name, orig, b)
	}
	if _, ok := errors.AsType[*wirePanicError](err); ok {
		t.Fatalf("%s %q: the decoder panicked: %v", tg.name, b, err)
	}
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%s %q: error %v, encoding/json's %v", tg.name, b, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s %q:\n got %s\nwant %s", tg.name, b, dump(got), dump(want))
	}
}

// dump shows a decoded value, through its pointers.
func dump(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return "&" + fmt.Sprintf("%+v", rv.Elem().Interface())
	}
	return fmt.Sprintf("%+v", v)
}

// wireSeeds are answers and bodies of every kind the client reads: the
// spec's example answers (whole and their bodies), and the edge cases the
// nsapi tests hold.
func wireSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	files, err := filepath.Glob(filepath.Join("testdata", "spec", "*.response.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("spec answers: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
		var env struct {
			Body json.RawMessage `json:"body"`
		}
		if json.Unmarshal(b, &env) == nil && len(env.Body) > 0 {
			seeds = append(seeds, env.Body)
		}
	}
	for _, s := range responseSeeds {
		seeds = append(seeds, []byte(s))
	}
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, s := range []string{
		// pages as gwsim gives them
		`{"devTotalCount":2,"deviceResult":[{"devEUI":"24E1241300000000","name":"d-0","applicationID":"1","appKey":"00000000000000000000000000000000","fCntUp":0,"mbFramePort":0,"fPort":85,"payloadCodecID":"0"},{"devEUI":"24E1241300000001","name":"d-1","applicationID":1,"nwksKey":"k","payloadCodeID":"7"}],"appTotalCount":1,"appResult":[{"applicationID":"1","appName":"cloud"}],"pfTotalCount":1,"profileResult":[{"profileID":"p","profileName":"n","supportsJoin":true}]}`,
		`{"totalCount":1,"result":[{"id":"g1","name":"g-0","mcAddr":"01020304","mcNwkSKey":"k","mcAppSKey":"k","fCnt":3,"groupType":"CLASS_C","dr":5,"frequency":869525000,"pingSlotPeriod":0,"createdAt":"2026-01-01T00:00:00Z","devices":[{"devEUI":"24E1241300000000","name":"d-0","applicationID":"1","deviceStatusBattery":"255","deviceStatusMargin":-3}]}]}`,
		`{"totalCount":"1","result":[{"name":"p","profile":{"profileID":"p1","supportsJoin":true,"factoryPresetFreqs":[868100000,868300000],"enableUplinkChannels":[0,1,2],"rxFreq2":"869525000"},"organizationID":1,"using":true}]}`,
		`{"totalCount":1,"result":[{"id":3,"name":"c","description":"","templateID":"0","encoderScript":"function x(){return \"a\\nb\"}","decoderScript":"","testEnabled":false,"fPort":"85"}]}`,
		`{"total":1,"tasks":[{"id":"4","name":"t","status":2,"startedAt":"2026-01-01T00:00:00Z","deveui":["A","B"],"firmwareInfo":{"firmwareName":"f.bin","fileContent":"AAEC"},"fragmentInfo":{"fragmentSize":"50"},"tmpMcInfo":{"groupType":1,"dr":"5"},"officialFirmwarInfo":{"id":1,"model":"m"}}]}`,
		`{"total":1,"devices":[{"devEui":"A","name":"n","status":"3","taskId":4,"fragmentSessionStatus":null}]}`,
		`{"total":"1","data":[{"id":9,"model":"m","frequencyBands":["EU868"],"size":"1024"}]}`,
		`{"maxPayloadSizeMap":[{"dr":0,"maxPayloadSize":51}]}`,
		`{"models":["UC300",null]}`,
		// duplicate keys
		`{"devTotalCount":1,"devTotalCount":"2","deviceResult":[{"devEUI":"A","devEUI":"B","nwkSKey":"x","nwksKey":"y","nwkSKey":""}],"deviceResult":[{"devEUI":"C"}]}`,
		`{"totalCount":1,"result":[{"id":"1","id":"2","name":"a","name":null}],"result":null}`,
		// case-folded keys
		`{"DEVTOTALCOUNT":3,"DeviceResult":[{"DevEUI":"A","deveui":"B","NAME":"n","Name":"m","name":"l"}]}`,
		`{"totalCount":1,"result":[{"ID":"1","Id":"2","iD":"3","NAME":"g","Devices":[{"DEVEUI":"x"}]}]}`,
		`{"ID":"x","Id":"y","id":"a","BODY":{"code":3},"Body":1,"body":{},"gatewayeui":"E","GatewayEUI":"F"}`,
		`{"profileid":"p","PROFILEID":"q"}`,
		// keys folded outside ASCII: the Kelvin sign and the long s
		"{\"total\":1,\"devices\":[{\"devEui\":\"A\",\"ta\u017fkId\":5,\"productModel\":\"m\"}],\"\u212a\":1}",
		"{\"devTotalCount\":1,\"deviceResult\":[{\"devEUI\":\"A\",\"app\u212aey\":\"k\",\"nwk\u017f\u212aey\":\"s\",\"de\u017fcription\":\"d\"}]}",
		"{\"id\":\"a\",\"body\":{\"\u017ftatus\":1},\"gatewayEUI\":\"E\",\"method\":\"GET\",\"url\":\"/x\",\"\u212aey\":1}",
		"{\"totalCount\":1,\"result\":[{\"id\":\"1\",\"mcNwk\u017f\u212aey\":\"k\",\"deviceStatusBattery\":1}]}",
		// numbers as strings, and strings as numbers
		`{"devTotalCount":" 7 ","deviceResult":[{"devEUI":"A","fPort":"85","fCntUp":"1e3","mbTcpPort":"","applicationID":12345678901234567890,"payloadCodecID":-1.5e3}]}`,
		`{"total":"0x10","tasks":[]}`,
		`{"totalCount":"9223372036854775808","result":[]}`,
		`{"totalCount":"\u0031\u0032","result":[{"name":"x","profile":{"rxFreq2":"8.69525e8"}}]}`,
		// escapes
		`{"devTotalCount":1,"deviceResult":[{"d\u0065vEUI":"esc","name":"\u00e9t\u00e9 \"q\" \\ \/ \b\f\n\r\t \ud83d\ude00","description":"\u0000"}]}`,
		`{"totalCount":1,"result":[{"id":"\u0031","name":"\ud800","description":"\udc00\ud800x","encoderScript":"\uD83D\uDE00"}]}`,
		// invalid UTF-8
		"{\"devTotalCount\":1,\"deviceResult\":[{\"devEUI\":\"A\xff\",\"name\":\"\xc3\x28\",\"description\":\"\xed\xa0\x80\",\"appKey\":\"\xf4\x90\x80\x80\"}]}",
		"{\"totalCount\":1,\"result\":[{\"id\":\"x\",\"name\":\"\xe2\x82\"}]}",
		"{\"t\xffotal\":1,\"total\":2,\"tasks\":[]}",
		"{\"id\":\"\xff\",\"gatewayEUI\":\"\xfe\",\"body\":\"\xff\"}",
		// deep nesting
		`{"totalCount":1,"x":` + deep(10000) + `,"result":[]}`,
		`{"totalCount":1,"x":` + deep(10001) + `,"result":[]}`,
		`{"id":"a","body":` + deep(9999) + `}`,
		`{"id":"a","body":` + deep(10001) + `}`,
		`{"total":1,"tasks":[{"x":` + strings.Repeat(`{"a":`, 10000) + `1` + strings.Repeat(`}`, 10000) + `}]}`,
		// huge numbers
		`{"devTotalCount":1e400,"deviceResult":[]}`,
		`{"devTotalCount":99999999999999999999,"deviceResult":[]}`,
		`{"totalCount":1,"result":[{"name":"p","profile":{"factoryPresetFreqs":[1e3],"enableUplinkChannels":[99999999999999999999]}}]}`,
		`{"totalCount":1,"result":[{"name":"p","profile":{"factoryPresetFreqs":[1.0],"enableUplinkChannels":[-0]}}]}`,
		`{"id":-1e-400,"body":1e999999}`,
		`{"id":123456789012345678901234567890,"body":{"code":1e2}}`,
		// trailing garbage
		`{"totalCount":1,"result":[]} x`,
		`{"totalCount":1,"result":[]}{}`,
		`{"totalCount":1,"result":[]}]`,
		"{\"totalCount\":1,\"result\":[]}\x00",
		`{"id":"a"}}`,
		// null and other types where an object or list belongs
		`null`, ` null `, `{}`, `[]`, `""`, `0`, `true`, `"x"`,
		`{"result":null,"totalCount":null}`,
		`{"result":[null,{}],"totalCount":1}`,
		`{"deviceResult":[null],"devTotalCount":1}`,
		`{"total":1,"tasks":[null]}`,
		`{"totalCount":1,"result":[{"name":"p","profile":null,"using":null}]}`,
		`{"totalCount":1,"result":[{"name":"p","profile":{"supportsJoin":"true","factoryPresetFreqs":null}}]}`,
		`{"totalCount":1,"result":{"name":"x"}}`,
		`{"totalCount":1,"result":"x"}`,
		`{"totalCount":true,"result":[]}`,
		`{"totalCount":[],"result":[]}`,
		`{"devTotalCount":1,"deviceResult":[{"devEUI":5,"name":"n"}]}`,
		`{"devTotalCount":1,"deviceResult":[{"devEUI":"A","supportsJoin":1}]}`,
		// invalid JSON in a member no field takes, and elsewhere
		`{"x":tru,"totalCount":1,"result":[]}`,
		`{"x":[1,,2],"totalCount":1,"result":[]}`,
		`{"x":"\q","totalCount":1,"result":[]}`,
		`{"x":01,"totalCount":1,"result":[]}`,
		`{"x":1.,"totalCount":1,"result":[]}`,
		`{"x":-,"totalCount":1,"result":[]}`,
		`{"x":{"a"},"totalCount":1,"result":[]}`,
		`{"x":{"a":1,},"totalCount":1,"result":[]}`,
		`{"x":nul,"totalCount":1}`,
		`{"x":"a` + "\x01" + `b","totalCount":1}`,
		`{"totalCount":1,"result":[{"name":"a` + "\t" + `b"}]}`,
		`{"totalCount":1,"result":[],}`,
		`{"totalCount":1 "result":[]}`,
		`{totalCount:1}`,
		`{'totalCount':1}`,
		`{"totalCount":+1}`,
		`{"totalCount":.5}`,
		`{"totalCount":1e}`,
		`{"totalCount":0x10}`,
		`{"totalCount":NaN}`,
		`{"totalCount":Infinity}`,
		`{"id":"a","body":{"x":tru}}`,
		`{"id":"a","body":[1,]}`,
		`{"id":"a","x":"\ud83d\u","body":1}`,
		`{"id":"a","body":{"code":"5","error":"x"},"body":{"code":7}}`,
		"\ufeff{\"totalCount\":1}",
		"{\"totalCount\":1}\n",
		" \t\r\n{\"totalCount\":1} \t\r\n",
		`{"totalCount":1`,
		`{"totalCount":`,
		`{"`,
		`{`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// TestWireDecodeReadsAsEncodingJSON holds the seeds of FuzzWireDecode
// for every target.
func TestWireDecodeReadsAsEncodingJSON(t *testing.T) {
	for _, s := range wireSeeds(t) {
		for _, tg := range wireTargets {
			checkWireDecode(t, tg, s)
		}
	}
}

// FuzzWireDecode is the differential test of the wire decoder: the same
// bytes decoded into the same type by encoding/json and by unmarshalWire
// give the same value, or both an error.
func FuzzWireDecode(f *testing.F) {
	for _, s := range wireSeeds(f) {
		for i := range wireTargets {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		checkWireDecode(t, wireTargets[int(kind)%len(wireTargets)], b)
	})
}

// TestWireDecodePanicIsAnError: a panic inside the decoder is an error of
// unmarshalWire, not a crash.
func TestWireDecodePanicIsAnError(t *testing.T) {
	var v panicky
	err := unmarshalWire([]byte(`{"a":1}`), &v)
	if _, ok := errors.AsType[*wirePanicError](err); !ok {
		t.Fatalf("error %v (%T), want a *wirePanicError", err, err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error %q shows the panic's value", err)
	}
	var r runtimePanicky
	err = unmarshalWire([]byte(`[1]`), &r)
	if _, ok := errors.AsType[*wirePanicError](err); !ok || !strings.Contains(err.Error(), "index out of range") {
		t.Fatalf("error %v (%T), want a *wirePanicError naming the runtime error", err, err)
	}
	if err := unmarshalWire([]byte(`{"a":1}`), new(map[string]int)); err != nil {
		t.Fatalf("after a panic: %v", err)
	}
}

// runtimePanicky fails with a runtime error while it is decoded.
type runtimePanicky struct{ n []int }

func (p *runtimePanicky) UnmarshalJSON(b []byte) error {
	p.n = make([]int, len(b)-3)
	p.n[len(b)] = 1
	return nil
}

// panicky panics while it is decoded.
type panicky struct{}

func (*panicky) UnmarshalJSON([]byte) error { panic("secret appKey 0011") }
