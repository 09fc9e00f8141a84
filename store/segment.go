package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Spool segment format (all integers little endian):
//
//	segment = magic record*
//	magic   = "LWSPOOL1"                     8 bytes
//	record  = length:u32 crc:u32 payload     crc = CRC-32C (Castagnoli) of payload
//	payload = flags:u8 lines:u32 body        flags bit 0: body is gzip
//
// A record is written with one write(2) and the file is fsync'd before
// Append returns, so after a crash only the last record can be torn; its
// length or checksum no longer match and the reader stops there.
const (
	segMagic         = "LWSPOOL1"
	recHeaderLen     = 8
	payloadHeaderLen = 5
	maxRecordLen     = 256 << 20 // far above any batch; guards allocations on a corrupt length
	flagGzip         = 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt marks a record whose length or checksum is wrong.
var errCorrupt = errors.New("corrupt spool record")

// appendRecord appends the framed record for body to dst.
func appendRecord(dst []byte, body []byte, gz bool, lines int) []byte {
	n := payloadHeaderLen + len(body)
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = binary.LittleEndian.AppendUint32(dst, 0) // crc, filled below
	var flags byte
	if gz {
		flags |= flagGzip
	}
	dst = append(dst, flags)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(lines))
	dst = append(dst, body...)
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[start+recHeaderLen:], crcTable))
	return dst
}

// record is one decoded spool record.
type record struct {
	body  []byte
	gz    bool
	lines int
}

// decodePayload checks a payload read from disk.
func decodePayload(p []byte) (record, error) {
	if len(p) < payloadHeaderLen {
		return record{}, fmt.Errorf("%w: payload of %d bytes is shorter than its header", errCorrupt, len(p))
	}
	flags := p[0]
	if flags&^flagGzip != 0 {
		return record{}, fmt.Errorf("%w: unknown flags %#x", errCorrupt, flags)
	}
	return record{body: p[payloadHeaderLen:], gz: flags&flagGzip != 0, lines: int(binary.LittleEndian.Uint32(p[1:5]))}, nil
}

// recordReader reads the records of one segment in order.
type recordReader struct {
	r   *bufio.Reader
	off int64 // offset of the next record
	buf []byte
}

// newRecordReader checks the segment magic; a segment shorter than its
// magic (crash right after creation) reads as empty.
func newRecordReader(r io.Reader) (*recordReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var magic [len(segMagic)]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, io.EOF
		}
		return nil, err
	}
	if string(magic[:]) != segMagic {
		return nil, fmt.Errorf("%w: bad segment magic %q", errCorrupt, magic[:])
	}
	return &recordReader{r: br, off: int64(len(segMagic))}, nil
}

// next returns the next record; its body is valid until the next call.
// io.EOF means a clean end; errCorrupt a torn or damaged record at off.
func (rr *recordReader) next() (record, error) {
	var h [recHeaderLen]byte
	n, err := io.ReadFull(rr.r, h[:])
	if err == io.EOF {
		return record{}, io.EOF
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return record{}, fmt.Errorf("%w: header truncated after %d bytes", errCorrupt, n)
		}
		return record{}, err
	}
	length := binary.LittleEndian.Uint32(h[:4])
	sum := binary.LittleEndian.Uint32(h[4:])
	if length < payloadHeaderLen || length > maxRecordLen {
		return record{}, fmt.Errorf("%w: length %d out of range", errCorrupt, length)
	}
	if cap(rr.buf) < int(length) {
		rr.buf = make([]byte, length)
	}
	p := rr.buf[:length]
	if n, err := io.ReadFull(rr.r, p); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return record{}, fmt.Errorf("%w: payload truncated at %d of %d bytes", errCorrupt, n, length)
		}
		return record{}, err
	}
	if crc32.Checksum(p, crcTable) != sum {
		return record{}, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	rec, err := decodePayload(p)
	if err != nil {
		return record{}, err
	}
	rr.off += recHeaderLen + int64(length)
	return rec, nil
}
