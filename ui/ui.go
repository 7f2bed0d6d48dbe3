// Package ui owns Nimbus Desktop's Fyne views: the window shell (project
// switcher, navigation, sync chip, shortcuts), intake by drop or folder
// picker, and the Pages, Batches, Review, Logs, Data and Settings screens.
// It holds no business logic: every action calls workspace, every figure is
// read from the local store through workspace (ui imports no localstore,
// sync or extract), and live updates come from the store's change events,
// coalesced about every 100 ms and applied inside fyne.Do to the changed
// rows only. Nothing imports ui but main.
package ui

import (
	"context"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// Workspace is what the views need of the workspace; *workspace.Workspace
// implements it. Each view uses only its own slice of it (the small
// interfaces below).
type Workspace interface {
	storeAPI
	projectAPI
	settingsAPI
	reviewAPI
	syncAPI
	intakeAPI
}

// intakeAPI: drop/pick a folder, import with progress, watch, export.
type intakeAPI interface {
	Import(ctx context.Context, dir string, o workspace.ImportOptions) (workspace.ImportResult, error)
	WatchFolder(ctx context.Context, dir string, o workspace.ImportOptions, onImport func(workspace.ImportResult, error), notice func(string)) error
	Export(ctx context.Context, o workspace.ExportOptions) (workspace.ExportResult, error)
}

// storeAPI: what the list views read of the local mirror (the source of
// truth for pages, batches, status and logs), through workspace.
type storeAPI interface {
	StorePath() string
	Subscribe(buf int) (<-chan workspace.StoreEvent, func())
	ChangesWaiting() (int, error)
	PageRows(ctx context.Context, projectID string, limit int) ([]workspace.PageRow, error)
	PageRowOf(projectID, pageID string) (workspace.PageRow, error)
	IndexStale() bool
	Page(projectID, pageID string) (model.PageData, error)
	PageLogs(projectID, pageID string) (model.LogData, error)
	PageStatus(projectID, pageID string) (model.StatusData, error)
	PageCount(projectID string) (int, error)
	Batches(projectID string) ([]model.BatchData, error)
	Batch(projectID, batchID string) (model.BatchData, error)
	RecentLogs(ctx context.Context, projectID string, q workspace.LogQuery) ([]workspace.LogLine, bool, error)
	KVCount(ns model.Namespace, prefix string) (int, error)
	KVKeys(ns model.Namespace, prefix string) ([]string, error)
	KVGet(ns model.Namespace, key string) ([]byte, error)
	SavedAccountID() string
}

// projectAPI: the project switcher and first run.
type projectAPI interface {
	Projects() ([]model.ProjectData, error)
	CurrentProjectID() (string, error)
	UseProject(ctx context.Context, projectID string) error
	CreateProject(ctx context.Context, name string, opts workspace.ProjectOptions) (model.ProjectData, error)
}

// settingsAPI: the Settings screen.
type settingsAPI interface {
	Project(projectID string) (model.ProjectData, error)
	UpdateSettings(ctx context.Context, projectID string, change func(*model.ProjectSettings)) (model.ProjectData, error)
	Account() (workspace.Account, error)
	APIKeys() ([]workspace.APIKey, error)
	CreateAPIKey(ctx context.Context, name string) (key, hash string, err error)
	DeactivateAPIKey(ctx context.Context, hash string) (model.KeyData, error)
	Connection() workspace.ConnectionInfo
	SetSyncRate(rate float64) error
	TestConnection(ctx context.Context, o workspace.SyncOptions) (workspace.ConnectionTest, error)
}

// reviewAPI: the Review screen.
type reviewAPI interface {
	ReviewPage(projectID, pageID string) ([]workspace.ReviewBlock, error)
	ReviewBlocks(ctx context.Context, projectID string, f workspace.ReviewFilter) ([]workspace.ReviewBlock, error)
	Decide(ctx context.Context, projectID, pageID, blockID, state, text string) (workspace.ReviewBlock, error)
	DecideAll(ctx context.Context, projectID string, refs []workspace.BlockRef, state string) ([]workspace.ReviewBlock, error)
	DecideUndecided(ctx context.Context, projectID string, refs []workspace.BlockRef, state string) ([]workspace.ReviewBlock, error)
}

var _ Workspace = (*workspace.Workspace)(nil)
