package export_test

import (
	"fmt"
	"testing"

	"github.com/gwsync/gwsync/export"
	"github.com/gwsync/gwsync/nsapi"
)

// BenchmarkExport2000 exports a gateway of 2,000 devices in 20 multicast
// groups of 100, with 5 profiles and 5 codecs.
func BenchmarkExport2000(b *testing.B) {
	st := &nsapi.State{GatewayEUI: "24E124FFFEF5A6A8", ChannelPlan: "EU868",
		Applications: []nsapi.Application{{ApplicationID: "1", AppName: "cloud"}, {ApplicationID: "2", AppName: "factory"}}}
	for i := 0; i < 5; i++ {
		st.Profiles = append(st.Profiles, nsapi.Profile{Name: fmt.Sprintf("p%d", i), Profile: nsapi.ProfileSettings{ProfileID: fmt.Sprintf("id%d", i),
			SupportsJoin: true, MacVersion: "1.0.2", RegParamsRevision: "B", RxFreq2: 869525000, PingSlotPeriod: 128, PingSlotDR: 3,
			PingSlotFreq: 869525000, ClassBTimeout: 10, ClassCTimeout: 10}})
		st.Codecs = append(st.Codecs, nsapi.Codec{ID: nsapi.FlexString(fmt.Sprint(100 + i)), Name: fmt.Sprintf("c%d", i),
			DecoderScript: "function Decode(fPort, bytes) {\n  return {};\n}\n"})
	}
	for i := 0; i < 2000; i++ {
		st.Devices = append(st.Devices, nsapi.Device{DevEUI: fmt.Sprintf("24E124136A%06X", i), Name: fmt.Sprintf("dev-%04d", i),
			ApplicationID: nsapi.FlexString(fmt.Sprint(1 + i%2)), ProfileID: fmt.Sprintf("id%d", i%5), SupportsJoin: true,
			AppKey: fmt.Sprintf("%032x", i+1), FPort: 85, PayloadCodecID: nsapi.FlexString(fmt.Sprint(100 + i%5))})
	}
	for g := 0; g < 20; g++ {
		grp := nsapi.MulticastGroupInfo{ID: fmt.Sprint(g), MulticastGroup: nsapi.MulticastGroup{Name: fmt.Sprintf("group %d", g), McAddr: fmt.Sprintf("%08X", g+1),
			McNwkSKey: fmt.Sprintf("%032x", 10000+g), McAppSKey: fmt.Sprintf("%032x", 20000+g), GroupType: "CLASS_C", Frequency: 869525000}}
		for i := 0; i < 100; i++ {
			grp.Devices = append(grp.Devices, nsapi.GroupMember{DevEUI: st.Devices[g*100+i].DevEUI})
		}
		st.Groups = append(st.Groups, grp)
	}
	b.ReportAllocs()
	for b.Loop() {
		r, err := export.Export(st, export.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if r.Counts.Devices != 2000 {
			b.Fatalf("%d devices exported", r.Counts.Devices)
		}
	}
}
