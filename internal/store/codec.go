package store

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"
)

// The index is a compact binary file, decoded in one pass without
// reflection so that opening a store of 10,000 certificates stays fast:
//
//	magic "EDGECERT-STORE-INDEX\n" | uvarint version | uvarint generation |
//	uvarint n | n records | uvarint m | m assignments | [version 2: string sealing] |
//	CRC-32 (IEEE, big endian)
//
// Strings are a uvarint length and the bytes, times a varint of Unix
// nanoseconds (0 = zero time), booleans one byte, string lists a uvarint
// count and the strings.
const indexMagic = "EDGECERT-STORE-INDEX\n"

var errIndexDamaged = errors.New("index damaged")

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) str(s string)  { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *encoder) time(t time.Time) {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	e.b = binary.AppendVarint(e.b, ns)
}
func (e *encoder) strs(l []string) {
	e.uint(uint64(len(l)))
	for _, s := range l {
		e.str(s)
	}
}

func encodeIndex(x *index) []byte {
	e := &encoder{b: make([]byte, 0, 64+300*len(x.Entries))}
	e.b = append(e.b, indexMagic...)
	e.uint(uint64(x.Version))
	e.uint(x.Generation)
	e.uint(uint64(len(x.Entries)))
	for i := range x.Entries {
		r := &x.Entries[i]
		e.str(string(r.Location))
		e.str(r.Thumbprint)
		e.str(r.SHA256)
		e.str(r.Subject)
		e.str(r.Issuer)
		e.str(r.Serial)
		e.time(r.NotBefore)
		e.time(r.NotAfter)
		e.strs(r.DNSNames)
		e.strs(r.EKU)
		e.strs(r.KeyUsage)
		e.str(r.KeyAlgorithm)
		e.uint(uint64(r.KeyBits))
		e.str(r.FriendlyName)
		e.bool(r.HasKey)
		e.bool(r.Exportable)
		e.str(r.Template)
		e.str(r.KeyHash)
	}
	e.uint(uint64(len(x.Assignments)))
	for _, a := range x.Assignments {
		e.str(a.Usage)
		e.str(a.Thumbprint)
		e.str(a.Previous)
		e.str(a.Staged)
		e.time(a.Effective)
	}
	if x.Version >= 2 {
		e.str(x.Sealing)
	}
	return binary.BigEndian.AppendUint32(e.b, crc32.ChecksumIEEE(e.b))
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) fail() {
	d.err = errIndexDamaged
	d.b = nil
}

func (d *decoder) str() string {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) bool() bool {
	if len(d.b) == 0 {
		d.fail()
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *decoder) time() time.Time {
	ns, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return time.Time{}
	}
	d.b = d.b[n:]
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func (d *decoder) strs() []string {
	n := d.uint()
	if n == 0 || n > uint64(len(d.b)) {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func decodeIndex(data []byte) (*index, error) {
	if len(data) < len(indexMagic)+4 || string(data[:len(indexMagic)]) != indexMagic {
		return nil, errIndexDamaged
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, errIndexDamaged
	}
	d := &decoder{b: body[len(indexMagic):]}
	x := &index{Version: int(d.uint()), Generation: d.uint()}
	n := d.uint()
	if n > uint64(len(d.b)) {
		return nil, errIndexDamaged
	}
	x.Entries = make([]record, n)
	for i := range x.Entries {
		r := &x.Entries[i]
		r.Location = Location(d.str())
		r.Thumbprint = d.str()
		r.SHA256 = d.str()
		r.Subject = d.str()
		r.Issuer = d.str()
		r.Serial = d.str()
		r.NotBefore = d.time()
		r.NotAfter = d.time()
		r.DNSNames = d.strs()
		r.EKU = d.strs()
		r.KeyUsage = d.strs()
		r.KeyAlgorithm = d.str()
		r.KeyBits = int(d.uint())
		r.FriendlyName = d.str()
		r.HasKey = d.bool()
		r.Exportable = d.bool()
		r.Template = d.str()
		r.KeyHash = d.str()
	}
	m := d.uint()
	if m > uint64(len(d.b)) {
		return nil, errIndexDamaged
	}
	for i := uint64(0); i < m; i++ {
		x.Assignments = append(x.Assignments, Assignment{Usage: d.str(), Thumbprint: d.str(), Previous: d.str(), Staged: d.str(), Effective: d.time()})
	}
	if x.Version >= 2 {
		x.Sealing = d.str()
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, errIndexDamaged
	}
	return x, nil
}
