package uaclient

import (
	"bytes"
	"fmt"
	_ "unsafe" // go:linkname, see serviceRegistry

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// A poll sends the same Read every tick; only the request header (time,
// handle, session token) changes. gopcua v0.9.0 encodes every request by
// reflection: a Read of 1 000 nodes costs ~1.3 ms of CPU and ~800 kB of
// garbage (BenchmarkEncodeRead1000), the largest single cost of a poll. An
// encodedRead carries the body (MaxAge, TimestampsToReturn, NodesToRead)
// encoded once, by gopcua's own encoder, and encodes only the header per
// send.
//
// gopcua finds a request's service id by its Go type, in a registry that
// refuses a second type for an id (ua.RegisterService panics), so the type
// is registered directly in that registry under ns=1;i=631. The lookup
// returns the numeric id (631, ReadRequest_Encoding_DefaultBinary) and the
// message's type id is always written in namespace 0, so the bytes on the
// wire are those of a ua.ReadRequest (TestEncodedReadMatchesGopcua sends
// both to the simulator and compares the bytes). The registry is an
// unexported variable, hence the linkname; gopcua is pinned at v0.9.0 and
// TestEncodedReadRegistered fails at once if an upgrade moves it. If the
// registration fails anyway, plans fall back to ua.ReadRequest: slower,
// same result.

//go:linkname serviceRegistry github.com/gopcua/opcua/ua.svcreg
var serviceRegistry *ua.TypeRegistry

// encodedReadOK says encodedRead is registered as ReadRequest.
var encodedReadOK = registerEncodedRead()

func registerEncodedRead() bool {
	if serviceRegistry == nil {
		return false
	}
	if err := serviceRegistry.Register(ua.NewNumericNodeID(1, id.ReadRequest_Encoding_DefaultBinary), (*encodedRead)(nil)); err != nil {
		return false
	}
	return ua.ServiceTypeID((*encodedRead)(nil)) == id.ReadRequest_Encoding_DefaultBinary
}

// encodedRead is a ua.ReadRequest with its body encoded once. It is used by
// one goroutine at a time: gopcua sets the header when it sends it.
type encodedRead struct {
	hdr  *ua.RequestHeader
	body []byte
	out  []byte // Encode's result, reused: gopcua copies it into the message at once
}

// newEncodedRead encodes req's body with gopcua's encoder: the encoding of
// the whole request minus that of its header, which comes first.
func newEncodedRead(req *ua.ReadRequest) (*encodedRead, error) {
	probe := *req
	probe.RequestHeader = &ua.RequestHeader{AuthenticationToken: ua.NewTwoByteNodeID(0)}
	full, err := ua.Encode(&probe)
	if err != nil {
		return nil, fmt.Errorf("encode read request: %w", err)
	}
	hdr, err := ua.Encode(probe.RequestHeader)
	if err != nil {
		return nil, fmt.Errorf("encode request header: %w", err)
	}
	if !bytes.HasPrefix(full, hdr) {
		return nil, fmt.Errorf("encode read request: header is not a prefix of the request")
	}
	return &encodedRead{body: full[len(hdr):]}, nil
}

func (r *encodedRead) Header() *ua.RequestHeader     { return r.hdr }
func (r *encodedRead) SetHeader(h *ua.RequestHeader) { r.hdr = h }

// Encode implements ua.BinaryEncoder: the header by gopcua, then the body.
// The result is valid until the next call; gopcua's message encoder
// (ua.Buffer.WriteStruct) copies it before the request is sent.
func (r *encodedRead) Encode() ([]byte, error) {
	hdr, err := ua.Encode(r.hdr)
	if err != nil {
		return nil, err
	}
	r.out = append(append(r.out[:0], hdr...), r.body...)
	return r.out, nil
}
