package cloudtrail

import "testing"

// A slab hands out zeroed blocks, sized by the input left, and takes back only the last one
// handed out (blockSlab.giveBack): an earlier one may belong to a record still held.
func TestBlockSlab(t *testing.T) {
	var s blockSlab
	a := s.next(3 * slabRecordBytes)
	if len(s.blocks) != 3 {
		t.Fatalf("a slab for 3 records' input has %d blocks", len(s.blocks))
	}
	a.rec.EventID = "a"
	b := s.next(2 * slabRecordBytes)
	b.rec.EventID = "b"
	s.giveBack(&a.rec) // not the last: kept
	if a.rec.EventID != "a" || s.n != 2 {
		t.Fatalf("an earlier block was taken back: %q, %d handed out", a.rec.EventID, s.n)
	}
	s.giveBack(&b.rec)
	if b.rec.EventID != "" || s.n != 1 {
		t.Fatalf("the last block was not taken back zeroed: %q, %d handed out", b.rec.EventID, s.n)
	}
	var other Record
	s.giveBack(&other) // not the slab's
	if c := s.next(0); c != b || c.rec.EventID != "" {
		t.Fatal("the block given back is not handed out again")
	}
	s.next(0)
	if d := s.next(100 * slabRecordBytes); len(s.blocks) != slabBlocks || d != &s.blocks[0] {
		t.Fatalf("a full slab is followed by one of %d blocks, want %d", len(s.blocks), slabBlocks)
	}
	var none *blockSlab
	none.giveBack(&other) // a record decoder without a slab
}
