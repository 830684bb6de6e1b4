package lake

// keyIndex holds, per event date, the key hash (cloudtrail.Record.KeyHash) of every record a
// writer wrote, each with the file it went to: a record of a date whose files this writer all
// wrote is new without asking the store unless its hash is in the date's table, and when it
// is, only the file named there is read for the check. Hashes are exact (64 bits), so at any
// size only true duplicates (and hash collisions, about 2⁻⁶⁴ a pair) are checked, each
// against one file. (A Bloom filter of all the run's keys, 8 MB, said "maybe" for one key in
// 20 after ten million, and every "maybe" read all the date's files spanning its time: at 10M
// events the check took 7 % of the ingest's CPU, growing with the store.)
//
// Memory is bounded by maxSlots (12 bytes a slot, tables at most three quarters full): past
// it, the dates least recently written are forgotten, and their files count as written by
// another writer (their records' times are checked against the files' spans, and spanned
// ones against the store), as after a new writer starts.
type keyIndex struct {
	dates    map[string]*dateKeys
	files    []string // file paths by index
	slots    int      // in all dates' tables
	maxSlots int
	tick     int64
}

// dateKeys is an open-addressing table of one date's key hashes (0: empty slot, as KeyHash
// is never 0) and the index of the file each went to (multiFile: more than one).
type dateKeys struct {
	hashes []uint64
	file   []int32
	n      int
	used   int64    // keyIndex.tick when last written
	paths  []string // the files whose keys are in the table
}

const (
	multiFile = -1
	// defaultKeySlots bounds a writer's key index: 24 MB, the keys of about 1.5 million records
	// (four or five days of a 10M-event month being loaded in delivery order).
	defaultKeySlots = 1 << 21
	minDateSlots    = 1 << 10
)

func newKeyIndex(maxSlots int) *keyIndex {
	return &keyIndex{dates: map[string]*dateKeys{}, maxSlots: maxSlots}
}

// lookup returns the file of date's records that holds a record of hash h: ok is false when
// none does, file is "" when more than one file holds records of that hash.
func (x *keyIndex) lookup(date string, h uint64) (file string, ok bool) {
	h = slotHash(h)
	d := x.dates[date]
	if d == nil {
		return "", false
	}
	mask := uint64(len(d.hashes) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch d.hashes[i] {
		case 0:
			return "", false
		case h:
			if fi := d.file[i]; fi != multiFile {
				return x.files[fi], true
			}
			return "", true
		}
	}
}

// add records that file, of date, holds the records of hashes. It returns the paths of the
// files whose keys it forgot to make room (theirs or, when the date alone outgrows the
// bound, this date's own, file included): they count as unkeyed from then on.
func (x *keyIndex) add(date, file string, hashes []uint64) (forgotten []string) {
	x.tick++
	d := x.dates[date]
	if d == nil {
		d = &dateKeys{}
		x.dates[date] = d
	}
	d.used = x.tick
	need := len(d.hashes)
	if need == 0 {
		need = minDateSlots
	}
	for (d.n+len(hashes))*4 > need*3 {
		need *= 2
	}
	if grow := need - len(d.hashes); grow > 0 {
		forgotten = x.makeRoom(grow, date)
		if x.slots+grow > x.maxSlots {
			// Even alone this date does not fit: forget it, this file's keys included.
			forgotten = append(forgotten, d.paths...)
			forgotten = append(forgotten, file)
			x.slots -= len(d.hashes)
			delete(x.dates, date)
			return forgotten
		}
		d.resize(need)
		x.slots += grow
	}
	fi := int32(len(x.files))
	x.files = append(x.files, file)
	d.paths = append(d.paths, file)
	mask := uint64(len(d.hashes) - 1)
	for _, h := range hashes {
		h = slotHash(h)
		i := h & mask
		for d.hashes[i] != 0 && d.hashes[i] != h {
			i = (i + 1) & mask
		}
		switch {
		case d.hashes[i] == 0:
			d.hashes[i], d.file[i] = h, fi
			d.n++
		case d.file[i] != fi:
			d.file[i] = multiFile
		}
	}
	return forgotten
}

// makeRoom forgets the least recently written dates other than keep until grow more slots
// fit, and returns their files.
func (x *keyIndex) makeRoom(grow int, keep string) (forgotten []string) {
	for x.slots+grow > x.maxSlots {
		oldest := ""
		for date, d := range x.dates {
			if date != keep && (oldest == "" || d.used < x.dates[oldest].used) {
				oldest = date
			}
		}
		if oldest == "" {
			return forgotten
		}
		d := x.dates[oldest]
		forgotten = append(forgotten, d.paths...)
		x.slots -= len(d.hashes)
		delete(x.dates, oldest)
	}
	return forgotten
}

// slotHash is h as a table holds it: 0 marks an empty slot (KeyHash is never 0; were it, the
// key would share 1's slot, which only checks a record more).
func slotHash(h uint64) uint64 { return max(h, 1) }

// resize rehashes d's table into n (a power of two) slots.
func (d *dateKeys) resize(n int) {
	oldHashes, oldFile := d.hashes, d.file
	d.hashes, d.file = make([]uint64, n), make([]int32, n)
	mask := uint64(n - 1)
	for j, h := range oldHashes {
		if h == 0 {
			continue
		}
		i := h & mask
		for d.hashes[i] != 0 {
			i = (i + 1) & mask
		}
		d.hashes[i], d.file[i] = h, oldFile[j]
	}
}

// Keys is a writer's index of the records it wrote (their key hashes by date, with the files
// they went to), to hand to the next writer of the same store (Writer.UseKeys): a process that
// commits to a store again and again, each time under a writer of its own (the alerts of each
// evaluation), then checks a new record against the files it wrote only when its hash is
// among theirs — not every one inside a stored file's time span against the store's files,
// a query growing with each commit. Files another writer added or rewrote since are not in
// it, and are checked as a new writer checks every file.
type Keys struct {
	store string
	idx   *keyIndex
	keyed map[string]bool
}

// Keys returns the index of the records w wrote (nil if none), for the next writer of its store
// (UseKeys); w must write no more after it.
func (w *Writer) Keys() *Keys {
	if w.keys == nil {
		return nil
	}
	return &Keys{store: w.id, idx: w.keys, keyed: w.keyed}
}

// UseKeys starts w's index of written records from k, a previous writer's of the same store
// (Keys), whose files w's dedupe (dropStored) then treats as its own; call it before w writes.
// A nil k, one of another store, or a w that has written already, is ignored. k is w's now:
// the writer k came from, and any other, must not use it.
func (w *Writer) UseKeys(k *Keys) {
	if k == nil || k.store != w.id || w.keys != nil {
		return
	}
	w.keys, w.keyed = k.idx, k.keyed
}
