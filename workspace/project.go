package workspace

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// Defaults of a new project's settings (the seed's, but for the model: gpt-4
// refuses JSON mode).
const (
	DefaultTone             = "professional"
	DefaultMaxPagesPerBatch = 1000
	DefaultConcurrency      = 5
	DefaultAIModel          = "gpt-4o-mini" // has JSON mode; the Worker falls back to JSON in the prompt for models without it (gpt-4)
)

// ProjectOptions are the optional settings of CreateProject; zero values take
// the seed defaults (domain defaults to the project name).
type ProjectOptions struct {
	Domain  string
	Tone    string
	AIModel string
}

// DefaultSettings returns a new project's settings.
func DefaultSettings(name string, opts ProjectOptions) model.ProjectSettings {
	s := model.ProjectSettings{
		Tone:               DefaultTone,
		MaxPagesPerBatch:   DefaultMaxPagesPerBatch,
		DefaultConcurrency: DefaultConcurrency,
		AIModel:            DefaultAIModel,
	}
	if looksLikeHost(name) {
		// "example.com" names its site; "Spring campaign" does not, and a
		// wrong domain would flag every page's canonical.
		s.Domain = strings.ToLower(name)
	}
	if opts.Domain != "" {
		s.Domain = opts.Domain
	}
	if opts.Tone != "" {
		s.Tone = opts.Tone
	}
	if opts.AIModel != "" {
		s.AIModel = opts.AIModel
	}
	return s
}

// CreateProject creates project:{id} with the seed's default settings, adds
// it to projects:{user_id} and makes it current, bootstrapping the account on
// a fresh store, all in one transaction. Names are unique per store: two
// projects called "example.com" would be indistinguishable in every list.
func (w *Workspace) CreateProject(ctx context.Context, name string, opts ProjectOptions) (model.ProjectData, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return model.ProjectData{}, errors.New("create project: the name is empty")
	}
	var p model.ProjectData
	err := w.store.Update(ctx, func(tx *localstore.Tx) error {
		now := time.Now()
		acc, err := w.ensureAccount(tx, "", now)
		if err != nil {
			return err
		}
		var dup string
		if err := tx.List(model.NSProjects, "project:", func(key string, value []byte) error {
			q, err := decodeProject(key, value)
			if err != nil {
				return err
			}
			if strings.EqualFold(q.Name, name) {
				dup = q.ProjectID
			}
			return nil
		}); err != nil {
			return err
		}
		if dup != "" {
			return fmt.Errorf("create project %q: a project with that name exists already (%s)", name, dup)
		}
		stamp := model.FormatTime(now)
		p = model.ProjectData{
			ProjectID:       model.NewProjectID(),
			UserID:          acc.UserID,
			Name:            name,
			Created:         stamp,
			Settings:        DefaultSettings(name, opts),
			Usage:           model.ProjectUsage{LastActivity: stamp},
			SettingsUpdated: stamp,
		}
		if err := p.Validate(); err != nil {
			return fmt.Errorf("create project %q: %w", name, err)
		}
		if err := tx.PutJSON(model.NSProjects, model.ProjectKey(p.ProjectID), p); err != nil {
			return fmt.Errorf("create project %q: %w", name, err)
		}
		if err := addToList(tx, model.ProjectsKey(acc.UserID), p.ProjectID); err != nil {
			return fmt.Errorf("create project %q: %w", name, err)
		}
		return tx.SetMeta(metaCurrentProject, p.ProjectID)
	})
	if err != nil {
		return model.ProjectData{}, err
	}
	return p, nil
}

func decodeProject(key string, value []byte) (model.ProjectData, error) {
	v, err := model.DecodeValue(key, value)
	if err != nil {
		return model.ProjectData{}, fmt.Errorf("%s %s: %w", model.NSProjects, key, err)
	}
	p, ok := v.(*model.ProjectData)
	if !ok {
		return model.ProjectData{}, fmt.Errorf("%s %s: holds a %T, not a project", model.NSProjects, key, v)
	}
	return *p, nil
}

func txProject(tx *localstore.Tx, projectID string) (model.ProjectData, error) {
	if projectID == "" {
		return model.ProjectData{}, fmt.Errorf("%w: empty project ID", ErrNoProject)
	}
	key := model.ProjectKey(projectID)
	b, err := tx.Get(model.NSProjects, key)
	if errors.Is(err, localstore.ErrNotFound) {
		return model.ProjectData{}, fmt.Errorf("%w: %s is not in this store ('nimbus project list' shows the projects)", ErrNoProject, projectID)
	}
	if err != nil {
		return model.ProjectData{}, err
	}
	return decodeProject(key, b)
}

// Project returns one project's record.
func (w *Workspace) Project(projectID string) (model.ProjectData, error) {
	key := model.ProjectKey(projectID)
	b, err := w.store.Get(model.NSProjects, key)
	if errors.Is(err, localstore.ErrNotFound) || projectID == "" {
		return model.ProjectData{}, fmt.Errorf("%w: %q is not in this store ('nimbus project list' shows the projects)", ErrNoProject, projectID)
	}
	if err != nil {
		return model.ProjectData{}, err
	}
	return decodeProject(key, b)
}

// Projects returns every project the local mirror holds, oldest first.
func (w *Workspace) Projects() ([]model.ProjectData, error) {
	var ps []model.ProjectData
	err := w.store.List(model.NSProjects, "project:", func(key string, value []byte) error {
		p, err := decodeProject(key, value)
		if err != nil {
			return err
		}
		ps = append(ps, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Created != ps[j].Created {
			return ps[i].Created < ps[j].Created
		}
		return ps[i].ProjectID < ps[j].ProjectID
	})
	return ps, nil
}

// UpdateSettings applies change to a project's settings in one
// read-modify-write transaction and stamps settings_updated (the merge takes
// settings from the later stamp). The result is validated before it is
// written; an invalid change writes nothing.
func (w *Workspace) UpdateSettings(ctx context.Context, projectID string, change func(*model.ProjectSettings)) (model.ProjectData, error) {
	var p model.ProjectData
	err := w.store.Update(ctx, func(tx *localstore.Tx) error {
		var err error
		p, err = txProject(tx, projectID)
		if err != nil {
			return err
		}
		change(&p.Settings)
		p.SettingsUpdated = laterStamp(p.SettingsUpdated, time.Now())
		if err := p.Validate(); err != nil {
			return fmt.Errorf("update settings of %s: %w", projectID, err)
		}
		if err := extract.CheckOptions(extract.OptionsFromSettings(p.Settings, "")); err != nil {
			return fmt.Errorf("update settings of %s: %w", projectID, err)
		}
		return tx.PutJSON(model.NSProjects, model.ProjectKey(projectID), p)
	})
	if err != nil {
		return model.ProjectData{}, err
	}
	return p, nil
}

// laterStamp returns now, or one millisecond after prev when the clock has
// not passed prev (two changes within a millisecond, or a skewed clock): the
// new settings must win the merge against the ones they replace.
func laterStamp(prev string, now time.Time) string {
	// Stamps keep milliseconds: compare at that precision, or a change in
	// the same millisecond as prev would get an equal stamp.
	now = now.Truncate(time.Millisecond)
	if t, err := model.ParseTime(prev); err == nil && !now.After(t) {
		now = t.Add(time.Millisecond)
	}
	return model.FormatTime(now)
}

// RefreshUsage recomputes a project's usage from what the mirror holds (the
// merge law: usage is derived, never incremented): total_pages counts its
// page: records, total_batches its batch: records, and last_activity becomes
// the later of the stored stamp and activity (zero: leave it). The record is
// written only when usage changed, so an idle refresh costs no push.
func (w *Workspace) RefreshUsage(ctx context.Context, projectID string, activity time.Time) (model.ProjectData, error) {
	var p model.ProjectData
	err := w.store.Update(ctx, func(tx *localstore.Tx) error {
		var err error
		p, err = refreshUsage(tx, projectID, activity)
		return err
	})
	if err != nil {
		return model.ProjectData{}, err
	}
	return p, nil
}

// refreshUsage is RefreshUsage in tx (the import does it in its last
// transaction). Counting walks keys only; no value is copied.
func refreshUsage(tx *localstore.Tx, projectID string, activity time.Time) (model.ProjectData, error) {
	pages, err := pageCountIn(tx, projectID)
	if err != nil {
		return model.ProjectData{}, fmt.Errorf("refresh usage of %s: %w", projectID, err)
	}
	batches, err := tx.Count(model.NSBatches, model.ProjectPrefix(model.KindBatch, projectID))
	if err != nil {
		return model.ProjectData{}, fmt.Errorf("refresh usage of %s: %w", projectID, err)
	}
	p, err := txProject(tx, projectID)
	if err != nil {
		return model.ProjectData{}, err
	}
	u := model.ProjectUsage{TotalPages: pages, TotalBatches: batches, LastActivity: p.Usage.LastActivity}
	if !activity.IsZero() {
		if prev, err := model.ParseTime(u.LastActivity); err != nil || activity.After(prev) {
			u.LastActivity = model.FormatTime(activity)
		}
	}
	if u == p.Usage {
		return p, nil
	}
	p.Usage = u
	if err := tx.PutJSON(model.NSProjects, model.ProjectKey(projectID), p); err != nil {
		return model.ProjectData{}, err
	}
	return p, nil
}

// looksLikeHost reports whether name is a plausible host name (labels of
// letters, digits and hyphens, at least one dot).
func looksLikeHost(name string) bool {
	if !strings.Contains(name, ".") || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
