package nsapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Return codes of the spec's Appendix and of section 6.11.
const (
	CodeSuccess            = 200
	CodeUnknown            = 2
	CodeParameter          = 3
	CodeNotFound           = 5
	CodeAlreadyExists      = 6
	CodeFailedPrecondition = 9
	CodeBadJSON            = 20
	CodeUnsupportedURL     = 21
	CodeMethodNotSupported = 22
	CodeInternal           = 23
	CodeRequestTimeout     = 24
	CodeGatewayMismatch    = 25

	CodeFuotaDeviceInTask       = 10310001
	CodeFuotaDevicesInTasks     = 10310002
	CodeFuotaTaskName           = 10310003
	CodeFuotaStartTime          = 10310004
	CodeFuotaMissFragmentInfo   = 10310005
	CodeFuotaMissTmpMcInfo      = 10310006
	CodeFuotaMissFirmwareInfo   = 10310007
	CodeFuotaMissOfficialInfo   = 10310008
	CodeFuotaMissCustomFirmware = 10310009
	CodeFuotaFragmentSize       = 10310010
	CodeFuotaFragmentInterval   = 10310011
	CodeFuotaRedundancy         = 10310012
	CodeFuotaTooManyTasks       = 10310013
	CodeFuotaTaskStatus         = 10310014
	CodeFuotaOfficialFetch      = 10310015
)

var codeText = map[int]string{
	CodeSuccess:                 "success",
	CodeUnknown:                 "unknown error",
	CodeParameter:               "parameter exception",
	CodeNotFound:                "data not found",
	CodeAlreadyExists:           "already exists",
	CodeFailedPrecondition:      "failed precondition",
	CodeBadJSON:                 "parse json failed",
	CodeUnsupportedURL:          "type or url not supported",
	CodeMethodNotSupported:      "method not supported",
	CodeInternal:                "internal server error",
	CodeRequestTimeout:          "request timeout",
	CodeGatewayMismatch:         "gateway EUI not matched",
	CodeFuotaDeviceInTask:       "not able to delete devices since it belongs to a FUOTA task",
	CodeFuotaDevicesInTasks:     "not able to delete devices since they belong to FUOTA tasks",
	CodeFuotaTaskName:           "task name is blank or too long",
	CodeFuotaStartTime:          "task start time format invalid",
	CodeFuotaMissFragmentInfo:   "miss fragment info",
	CodeFuotaMissTmpMcInfo:      "miss tmp_mc_info",
	CodeFuotaMissFirmwareInfo:   "miss firmware info",
	CodeFuotaMissOfficialInfo:   "miss official firmware info",
	CodeFuotaMissCustomFirmware: "miss custom firmware info",
	CodeFuotaFragmentSize:       "fragment size invalid",
	CodeFuotaFragmentInterval:   "fragment interval invalid",
	CodeFuotaRedundancy:         "redundancy percent invalid",
	CodeFuotaTooManyTasks:       "over the maximum task amount",
	CodeFuotaTaskStatus:         "not able to execute due to current task status",
	CodeFuotaOfficialFetch:      "failed to get official firmware information from server",
}

// CodeText is the spec's description of an ns-api return code, or "" for a
// code the spec does not list.
func CodeText(code int) string { return codeText[code] }

// RemoteError is an ns-api error answer: the gateway received the request
// and refused it with Code.
type RemoteError struct {
	Method  string
	URL     string
	Code    int
	Message string // the gateway's "error" text, possibly empty
}

func (e *RemoteError) Error() string {
	name := CodeText(e.Code)
	if name == "" {
		name = "unlisted code"
	}
	msg := fmt.Sprintf("%s %s: ns-api error %d (%s)", e.Method, e.URL, e.Code, name)
	if e.Message != "" && e.Message != name {
		msg += ": " + oneLineText(e.Message)
	}
	return msg
}

// oneLineText is text from the gateway as one line of printable text: as
// it is when it is, else Go-quoted, so that a message cannot start a line
// of its own (a CI runner reads "::command::" lines) or drive a terminal.
func oneLineText(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r != ' ' && !unicode.IsPrint(r) }) < 0 && utf8.ValidString(s) {
		return s
	}
	return strconv.Quote(s)
}

// IsCode reports whether err is, or wraps, a RemoteError with that code.
func IsCode(err error, code int) bool {
	var re *RemoteError
	return errors.As(err, &re) && re.Code == code
}

// ErrUnknownOutcome is wrapped by the error of a request whose answer never
// came (timeout, lost connection): a write may or may not have taken effect,
// and only a re-read can tell.
var ErrUnknownOutcome = errors.New("outcome unknown")

// OutcomeError is the error of a request whose answer never came.
type OutcomeError struct {
	Method string
	URL    string
	Cause  error // context deadline, connection lost, …
}

// Error names the request and why no answer came; for a write it says
// that nobody knows whether it took effect (a read changes nothing).
func (e *OutcomeError) Error() string {
	if e.Method == "GET" {
		return fmt.Sprintf("%s %s: no answer (%v)", e.Method, e.URL, e.Cause)
	}
	return fmt.Sprintf("%s %s: no answer (%v): the outcome of the write is unknown", e.Method, e.URL, e.Cause)
}

// Unwrap lets errors.Is(err, ErrUnknownOutcome) and the cause both match.
func (e *OutcomeError) Unwrap() []error { return []error{ErrUnknownOutcome, e.Cause} }

// WriteRefused reports whether err says, by the spec, that the gateway did
// NOT carry the request out, so that nothing needs undoing and a re-read
// cannot find a change. It is true only for a *RemoteError (wrapped or not)
// with one of these codes:
//
//   - 3 parameter exception, 20 parse json failed: the request was refused
//     as written, before anything was changed;
//   - 5 data not found, 6 already exists, 9 failed precondition: the
//     gateway's state forbade the change, which was therefore not made;
//   - 21 type or url not supported, 22 method not supported: no handler ran;
//   - 25 gateway EUI not matched: the request was for another gateway;
//   - 10310001–10310015 (FUOTA, 6.11): validation and task-status refusals
//     (devices in a task, name, start time, missing or invalid fragment,
//     multicast or firmware info, too many tasks, task status, official
//     firmware not fetched), each given before the task is touched.
//
// It is false for 2 unknown error and 23 internal server error (the write
// may have been partly or wholly done), 24 request timeout (the gateway's
// own timeout: the outcome is unknown), any code the spec does not list, an
// answer that never came (*OutcomeError) and every other error: those are
// settled by a re-read.
func WriteRefused(err error) bool {
	var re *RemoteError
	if !errors.As(err, &re) {
		return false
	}
	switch re.Code {
	case CodeParameter, CodeNotFound, CodeAlreadyExists, CodeFailedPrecondition,
		CodeBadJSON, CodeUnsupportedURL, CodeMethodNotSupported, CodeGatewayMismatch:
		return true
	case CodeUnknown, CodeInternal, CodeRequestTimeout:
		return false
	}
	return re.Code >= CodeFuotaDeviceInTask && re.Code <= CodeFuotaOfficialFetch
}
