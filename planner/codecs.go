// Payload codecs: custom codecs compared without their write-only
// codecJson, and the built-in codecs the gateway ships.

package planner

import (
	"fmt"
	"strings"

	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/site"
)

func normScript(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimRight(s, " \t\n")
}

// codecKey is what a codec is compared by. codecJson is left out: the
// codec list (spec 5.3) never returns it, so it is write-only — sent on
// create and with every update of the codec, and a difference by itself
// only against the digest of the value gwsync recorded writing
// (Options.CodecJSONDigests).
func codecKey(c *nsapi.Codec) nsapi.CodecWrite {
	w := c.Write()
	w.EncoderScript, w.DecoderScript, w.CodecJSON = normScript(w.EncoderScript), normScript(w.DecoderScript), ""
	w.Description = strings.TrimSpace(w.Description)
	return w
}

func (b *builder) codecs() {
	declared := names(b.site.Codecs, func(c *site.Codec) string { return c.Name })
	for i := range b.site.Codecs {
		sc := &b.site.Codecs[i]
		want := nsapi.Codec{Name: sc.Name, Description: sc.Description, TemplateID: nsapi.FlexInt(sc.TemplateID),
			EncoderScript: sc.EncoderScript, DecoderScript: sc.DecoderScript, TestEnabled: sc.TestEnabled,
			FPort: nsapi.FlexInt(sc.FPort), CodecJSON: sc.CodecJSON}
		addr := address(plan.KindCodec, sc.Name)
		if _, ok := b.builtin[sc.Name]; ok {
			b.problem(sc.Pos, fmt.Sprintf("codecs[%d].name", i), "%q is a built-in codec of the gateway: give the custom codec another name", sc.Name)
			continue
		}
		lc, from := claim(b.liveCodecs, b.usedCodecs, declared, sc.Name, sc.RenamedFrom)
		if lc == nil {
			b.siteCodecs[sc.Name] = target{name: sc.Name, ref: &plan.Ref{Field: "payloadCodecID", Address: addr}}
			b.add(plan.Change{Address: addr, Kind: plan.KindCodec, Name: sc.Name, Action: plan.Create,
				After: &plan.Object{Codec: &want}})
			continue
		}
		want.ID = lc.ID
		b.siteCodecs[sc.Name] = target{name: sc.Name, id: string(lc.ID)}
		before := *lc
		// codecJson is compared only when the site declares one: an
		// undeclared one is never sent, so the gateway keeps its own.
		digest, known := b.writtenCodecJSON(lc.Name)
		declaredJSON := want.CodecJSON != ""
		jsonChanged := declaredJSON && known && digest != reserved.Digest(want.CodecJSON)
		if v, ok := b.opts.WrittenCodecJSON[lc.Name]; ok && declaredJSON && known && reserved.Digest(v) == digest {
			before.CodecJSON = v
		} else if declaredJSON && known && !jsonChanged {
			before.CodecJSON = want.CodecJSON // the same, by its digest
		}
		if from == "" && codecKey(&want) == codecKey(lc) && !jsonChanged {
			continue
		}
		reason := renameReason(from)
		if jsonChanged && reason == "" {
			reason = "codecJson differs from the one gwsync last wrote (the gateway never returns it; its record on the gateway holds its digest)"
		}
		b.add(plan.Change{Address: addr, Kind: plan.KindCodec, Name: sc.Name, ID: string(lc.ID), Action: plan.Update,
			Reason: reason, Before: &plan.Object{Codec: &before}, After: &plan.Object{Codec: &want}})
	}
}

// builtinCodec reports whether a codec of the custom list is one the
// gateway ships (type=default, by name or id): prune never deletes one,
// whatever the custom list carries.
func (b *builder) builtinCodec(c *nsapi.Codec) bool {
	if _, ok := b.builtin[c.Name]; ok {
		return true
	}
	id := strings.TrimSpace(string(c.ID))
	for _, bc := range b.live.BuiltinCodecs {
		if id != "" && strings.TrimSpace(string(bc.ID)) == id {
			return true
		}
	}
	return false
}

// writtenCodecJSON is the digest of the codecJson gwsync last wrote to the
// codec name: from the gateway's record, else from the local cache.
func (b *builder) writtenCodecJSON(name string) (string, bool) {
	if b.opts.CodecJSONDigests != nil {
		d, ok := b.opts.CodecJSONDigests[name]
		return d, ok
	}
	if v, ok := b.opts.WrittenCodecJSON[name]; ok {
		return reserved.Digest(v), true
	}
	return "", false
}
