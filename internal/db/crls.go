package db

import (
	"context"
	"time"
)

// CRL is one signed CRL as stored. A CRL number names one CRL: the process
// that takes the number stores what it signed under it.
type CRL struct {
	Number     int64
	Base       int64 // 0: a full CRL; else the number of the full CRL this delta applies to
	ThisUpdate time.Time
	NextUpdate time.Time
	// Revocations is the revocation counter read before the CRL's entries
	// were: a counter that has moved since means the CRL may lack one.
	Revocations int64
	DER         []byte // nil in a CRLHead
}

// CRLHead is what a CA process needs to decide, on each CRL request,
// whether what it holds is the latest: the latest full CRL, the latest
// delta CRL on that full CRL (nil when none) and the revocation counter,
// read in one query, without the CRLs' bytes.
type CRLHead struct {
	Full, Delta *CRL
	Revocations int64
}

// crlHeadQuery returns the revocation counter (base -1), the latest full
// CRL (base 0) and the latest delta on it, one row each.
const crlHeadQuery = `SELECT -1, -1, 0, 0, value FROM counters WHERE name = 'revocations'
UNION ALL SELECT number, base, this_update, next_update, revocations FROM crls
 WHERE number = (SELECT max(number) FROM crls WHERE base = 0)
UNION ALL SELECT number, base, this_update, next_update, revocations FROM crls
 WHERE number = (SELECT max(number) FROM crls WHERE base > 0 AND base = (SELECT max(number) FROM crls WHERE base = 0))`

// crlHeadRow adds one row of crlHeadQuery to h.
func crlHeadRow(h *CRLHead, number, base, this, next, revs int64) {
	switch {
	case base < 0:
		h.Revocations = revs
	case base == 0:
		h.Full = &CRL{Number: number, ThisUpdate: time.Unix(this, 0).UTC(), NextUpdate: time.Unix(next, 0).UTC(), Revocations: revs}
	default:
		h.Delta = &CRL{Number: number, Base: base, ThisUpdate: time.Unix(this, 0).UTC(), NextUpdate: time.Unix(next, 0).UTC(), Revocations: revs}
	}
}

// CRLHead reads the latest stored CRLs' numbers and the revocation counter.
func (d *DB) CRLHead(ctx context.Context) (CRLHead, error) { return d.b.crlHead(ctx) }

// CRLByNumber returns one stored CRL with its bytes.
func (d *DB) CRLByNumber(ctx context.Context, number int64) (*CRL, error) {
	return d.b.crlByNumber(ctx, number)
}

// InsertCRL stores a signed CRL under its number and drops the CRLs no
// process serves any longer: full CRLs before the previous one (with their
// deltas), and the deltas of c's base before the previous one.
func (d *DB) InsertCRL(ctx context.Context, c CRL) error { return d.b.insertCRL(ctx, c) }

// crlPrune lists the statements that drop what c replaces, for the
// placeholder style ph(n).
func crlPrune(c CRL, ph func(int) string) string {
	if c.Base == 0 {
		return `DELETE FROM crls WHERE number < (SELECT max(number) FROM crls WHERE base = 0 AND number < ` + ph(1) + `)`
	}
	return `DELETE FROM crls WHERE base = ` + ph(2) + ` AND number < (SELECT max(number) FROM crls WHERE base = ` + ph(2) + ` AND number < ` + ph(1) + `)`
}

// Probe makes a write that changes nothing and commits it: it fails when
// the database takes no write (a full disk, a read-only server).
func (d *DB) Probe(ctx context.Context) error { return d.b.probe(ctx) }
