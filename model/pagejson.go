package model

// The page record's encoding when its extraction is already encoded: an
// import encodes each extraction once for its content_hash and splices those
// bytes into the record.

// pageHead and pageTail are PageData's fields before and after the
// extraction, in its order: the extraction was already encoded once for its
// content_hash, and encoding it again (or letting encoding/json re-validate
// it as a RawMessage) would double the largest cost of an import.
// TestPageJSONIsCanonical pins the bytes to Canonical.
type pageHead struct {
	PageID     string `json:"page_id"`
	ProjectID  string `json:"project_id"`
	BatchID    string `json:"batch_id"`
	SourcePath string `json:"source_path"`
	Uploaded   string `json:"uploaded"`
}

type pageTail struct {
	Optimization  *Optimization `json:"optimization,omitempty"`
	ContentHash   string        `json:"content_hash,omitempty"`
	Audit         *Audit        `json:"audit,omitempty"`
	SourceMissing string        `json:"source_missing,omitempty"`
}

// CanonicalPage is Canonical(p), splicing in ext (the canonical JSON of
// p.Extraction) when given.
func CanonicalPage(p PageData, ext []byte) []byte {
	if len(ext) == 0 {
		return Canonical(p)
	}
	head := Canonical(pageHead{PageID: p.PageID, ProjectID: p.ProjectID, BatchID: p.BatchID,
		SourcePath: p.SourcePath, Uploaded: p.Uploaded})
	tail := Canonical(pageTail{Optimization: p.Optimization, ContentHash: p.ContentHash,
		Audit: p.Audit, SourceMissing: p.SourceMissing})
	out := make([]byte, 0, len(head)+len(ext)+len(tail)+16)
	out = append(out, head[:len(head)-1]...) // without its closing brace
	out = append(out, `,"extraction":`...)
	out = append(out, ext...)
	if len(tail) > 2 { // "{}" when every tail field is empty
		out = append(out, ',')
		out = append(out, tail[1:]...)
	} else {
		out = append(out, '}')
	}
	return out
}
