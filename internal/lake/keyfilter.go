package lake

// keyFilter is a blocked Bloom filter of record key hashes (cloudtrail.Record.KeyHash): "no"
// is certain, "maybe" is wrong for about 1 key in 10,000 after a million keys and 1 in 20 after
// ten million (then most records are checked against the store, as without it). Each key
// sets three bits of one 64-byte block, so a look-up reads one cache line.
type keyFilter struct {
	blocks [][8]uint64
}

// keyFilterBlocks is the filter's size in 64-byte blocks: 8 MB.
const keyFilterBlocks = 1 << 17

func newKeyFilter() *keyFilter {
	return &keyFilter{blocks: make([][8]uint64, keyFilterBlocks)}
}

// The low 27 bits of a hash pick three bits of a block, the bits above them the block.
func (f *keyFilter) block(h uint64) *[8]uint64 {
	return &f.blocks[(h>>27)%keyFilterBlocks]
}

func (f *keyFilter) add(h uint64) {
	b := f.block(h)
	for i := range 3 {
		bit := h >> (9 * i) & 511
		b[bit>>6] |= 1 << (bit & 63)
	}
}

func (f *keyFilter) mayContain(h uint64) bool {
	b := f.block(h)
	for i := range 3 {
		bit := h >> (9 * i) & 511
		if b[bit>>6]&(1<<(bit&63)) == 0 {
			return false
		}
	}
	return true
}
