package localstore

import (
	"encoding/json"
	"fmt"

	"github.com/nimbus-desktop/nimbus/model"
)

// GetJSON reads key from ns and decodes it into a T.
func GetJSON[T any](s *Store, ns model.Namespace, key string) (T, error) {
	var v T
	b, err := s.Get(ns, key)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("decode %s %s: %w", ns, key, err)
	}
	return v, nil
}

// listJSON decodes every value of ns with prefix into a T and calls fn.
func listJSON[T any](s *Store, ns model.Namespace, prefix string, fn func(key string, v T) error) error {
	return s.List(ns, prefix, func(key string, value []byte) error {
		var v T
		if err := json.Unmarshal(value, &v); err != nil {
			return fmt.Errorf("decode %s %s: %w", ns, key, err)
		}
		return fn(key, v)
	})
}

// Typed conveniences over Get/List for the records the GUI and CLI read most.

// GetProject returns project:{projectID}.
func (s *Store) GetProject(projectID string) (model.ProjectData, error) {
	return GetJSON[model.ProjectData](s, model.NSProjects, model.ProjectKey(projectID))
}

// ListProjects calls fn for every project record, in key order.
func (s *Store) ListProjects(fn func(model.ProjectData) error) error {
	return listJSON(s, model.NSProjects, string(model.KindProject)+":", func(_ string, p model.ProjectData) error { return fn(p) })
}

// GetPage returns page:{projectID}:{pageID}.
func (s *Store) GetPage(projectID, pageID string) (model.PageData, error) {
	return GetJSON[model.PageData](s, model.NSPages, model.PageKey(projectID, pageID))
}

// ListPages calls fn for every page of the project, in page_id order.
func (s *Store) ListPages(projectID string, fn func(model.PageData) error) error {
	return listJSON(s, model.NSPages, model.ProjectPrefix(model.KindPage, projectID), func(_ string, p model.PageData) error { return fn(p) })
}

// GetReview returns review:{projectID}:{pageID}.
func (s *Store) GetReview(projectID, pageID string) (model.ReviewData, error) {
	return GetJSON[model.ReviewData](s, model.NSPages, model.ReviewKey(projectID, pageID))
}

// GetBatch returns batch:{projectID}:{batchID}.
func (s *Store) GetBatch(projectID, batchID string) (model.BatchData, error) {
	return GetJSON[model.BatchData](s, model.NSBatches, model.BatchKey(projectID, batchID))
}

// ListBatches calls fn for every batch of the project, oldest first
// (batch IDs sort by time).
func (s *Store) ListBatches(projectID string, fn func(model.BatchData) error) error {
	return listJSON(s, model.NSBatches, model.ProjectPrefix(model.KindBatch, projectID), func(_ string, b model.BatchData) error { return fn(b) })
}

// GetQueue returns queue:{projectID}.
func (s *Store) GetQueue(projectID string) (model.QueueData, error) {
	return GetJSON[model.QueueData](s, model.NSQueue, model.QueueKey(projectID))
}

// GetStatus returns status:{projectID}:{pageID}.
func (s *Store) GetStatus(projectID, pageID string) (model.StatusData, error) {
	return GetJSON[model.StatusData](s, model.NSStatus, model.StatusKey(projectID, pageID))
}

// ListStatuses calls fn with the page_id and status of every page of the
// project that has one, in page_id order.
func (s *Store) ListStatuses(projectID string, fn func(pageID string, st model.StatusData) error) error {
	prefix := model.ProjectPrefix(model.KindStatus, projectID)
	return listJSON(s, model.NSStatus, prefix, func(key string, st model.StatusData) error {
		return fn(key[len(prefix):], st)
	})
}

// GetLogs returns logs:{projectID}:{pageID}.
func (s *Store) GetLogs(projectID, pageID string) (model.LogData, error) {
	return GetJSON[model.LogData](s, model.NSLogs, model.LogsKey(projectID, pageID))
}

// Typed local writes: the key is derived from the record itself, so a
// record can never land under another record's key.

// PutProject stores p at project:{p.ProjectID}.
func (t *Tx) PutProject(p model.ProjectData) error {
	return t.PutJSON(model.NSProjects, model.ProjectKey(p.ProjectID), p)
}

// PutPage stores p at page:{p.ProjectID}:{p.PageID}.
func (t *Tx) PutPage(p model.PageData) error {
	return t.PutJSON(model.NSPages, model.PageKey(p.ProjectID, p.PageID), p)
}

// PutReview stores r at review:{r.ProjectID}:{r.PageID}.
func (t *Tx) PutReview(r model.ReviewData) error {
	return t.PutJSON(model.NSPages, model.ReviewKey(r.ProjectID, r.PageID), r)
}

// PutBatch stores b at batch:{b.ProjectID}:{b.BatchID}.
func (t *Tx) PutBatch(b model.BatchData) error {
	return t.PutJSON(model.NSBatches, model.BatchKey(b.ProjectID, b.BatchID), b)
}

// PutQueue stores q at queue:{projectID}.
func (t *Tx) PutQueue(projectID string, q model.QueueData) error {
	return t.PutJSON(model.NSQueue, model.QueueKey(projectID), q)
}

// PutStatus stores st at status:{projectID}:{pageID}.
func (t *Tx) PutStatus(projectID, pageID string, st model.StatusData) error {
	return t.PutJSON(model.NSStatus, model.StatusKey(projectID, pageID), st)
}

// PutLogs stores l at logs:{projectID}:{l.PageID}.
func (t *Tx) PutLogs(projectID string, l model.LogData) error {
	return t.PutJSON(model.NSLogs, model.LogsKey(projectID, l.PageID), l)
}
