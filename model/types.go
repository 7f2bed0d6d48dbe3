package model

import "encoding/json"

// Namespace is the title of one of the platform's eleven KV namespaces.
type Namespace string

// The eleven namespaces, named exactly as the seed and the Worker's bindings.
const (
	NSUsers    Namespace = "NIMBUS_USERS"
	NSProjects Namespace = "NIMBUS_PROJECTS"
	NSKeys     Namespace = "NIMBUS_KEYS"
	NSEmails   Namespace = "NIMBUS_EMAILS"
	NSCache    Namespace = "NIMBUS_CACHE"
	NSSessions Namespace = "NIMBUS_SESSIONS"
	NSPages    Namespace = "NIMBUS_PAGES"
	NSBatches  Namespace = "NIMBUS_BATCHES"
	NSQueue    Namespace = "NIMBUS_QUEUE"
	NSStatus   Namespace = "NIMBUS_STATUS"
	NSLogs     Namespace = "NIMBUS_LOGS"
)

// Namespaces lists all eleven namespaces in a stable order.
var Namespaces = []Namespace{
	NSUsers, NSProjects, NSKeys, NSEmails, NSCache, NSSessions,
	NSPages, NSBatches, NSQueue, NSStatus, NSLogs,
}

// Valid reports whether ns is one of the eleven namespaces.
func (ns Namespace) Valid() bool {
	for _, n := range Namespaces {
		if n == ns {
			return true
		}
	}
	return false
}

// UserData is stored at user:{user_id} in NIMBUS_USERS.
type UserData struct {
	UserID  string `json:"user_id"`
	Email   string `json:"email"`
	Created string `json:"created"`
	// Updated is an addition: the stamp of the last change (merge: later wins).
	Updated string `json:"updated,omitempty"`
}

// ProjectsList is stored at projects:{user_id} in NIMBUS_USERS.
type ProjectsList []string

// ApiKeysList is stored at apikeys:{user_id} in NIMBUS_USERS; it holds
// "sha256:<hex>" hashes, never keys.
type ApiKeysList []string

// ProjectSettings are the per-project settings. The seed's five fields come
// first; the rest are additions (optional, never renames).
type ProjectSettings struct {
	Tone               string `json:"tone"`
	MaxPagesPerBatch   int    `json:"max_pages_per_batch"`
	DefaultConcurrency int    `json:"default_concurrency"`
	AIModel            string `json:"ai_model"`
	Domain             string `json:"domain"`

	MainSelector     string            `json:"main_selector,omitempty"`
	AboveFoldMax     int               `json:"above_fold_max,omitempty"`
	AboveFoldUntil   string            `json:"above_fold_until,omitempty"`  // element that ends the fold, default "h2"
	DimensionSources []string          `json:"dimension_sources,omitempty"` // "path", "data", "meta", "css"
	PathPattern      string            `json:"path_pattern,omitempty"`
	CSSExtractors    map[string]string `json:"css_extractors,omitempty"` // dimension name -> CSS selector
	MaxFileBytes     int64             `json:"max_file_bytes,omitempty"`
}

// ProjectUsage is derived from the pages and batches the mirror holds.
type ProjectUsage struct {
	TotalPages   int    `json:"total_pages"`
	TotalBatches int    `json:"total_batches"`
	LastActivity string `json:"last_activity"`
}

// ProjectData is stored at project:{project_id} in NIMBUS_PROJECTS.
type ProjectData struct {
	ProjectID string          `json:"project_id"`
	UserID    string          `json:"user_id"`
	Name      string          `json:"name"`
	Created   string          `json:"created"`
	Settings  ProjectSettings `json:"settings"`
	Usage     ProjectUsage    `json:"usage"`
	// SettingsUpdated stamps the last settings (or name) change; merge takes
	// settings from the later one.
	SettingsUpdated string `json:"settings_updated,omitempty"`
}

// KeyUsage counts an API key's requests.
type KeyUsage struct {
	RequestsToday int64 `json:"requests_today"`
	RequestsTotal int64 `json:"requests_total"`
}

// KeyData is stored at apikey:{sha256:<hex>} in NIMBUS_KEYS.
type KeyData struct {
	UserID   string   `json:"user_id"`
	Created  string   `json:"created"`
	LastUsed string   `json:"last_used"`
	Active   bool     `json:"active"`
	Name     string   `json:"name"`
	Usage    KeyUsage `json:"usage"`
}

// EmailData is stored at email:{email} in NIMBUS_EMAILS.
type EmailData struct {
	UserID  string `json:"user_id"`
	Created string `json:"created"`
}

// CacheData is stored at cache:{hash} in NIMBUS_CACHE (written by the Worker).
type CacheData struct {
	Data    json.RawMessage `json:"data"`
	Created string          `json:"created"`
	Expires string          `json:"expires"`
	Type    string          `json:"type"`
}

// SessionData is stored at session:{session_id} in NIMBUS_SESSIONS.
type SessionData struct {
	UserID    string `json:"user_id"`
	Email     string `json:"email"`
	Created   string `json:"created"`
	Expires   string `json:"expires"`
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
}

// Block is one content block of a page.
type Block struct {
	ID               string            `json:"id"`
	Type             string            `json:"type"`
	Content          string            `json:"content"`
	Attributes       map[string]string `json:"attributes,omitempty"`
	OptimizedContent string            `json:"optimized_content,omitempty"`
}

// Extraction is what the desktop extracts from one HTML page.
type Extraction struct {
	Engine           string            `json:"engine"`
	MainSelector     string            `json:"main_selector"`
	Head             map[string]string `json:"head"`
	Dimensions       map[string]string `json:"dimensions"`
	AboveFoldBlocks  []Block           `json:"above_fold_blocks"`
	RestOfPageBlocks []Block           `json:"rest_of_page_blocks"`
	SelectorMap      map[string]string `json:"selector_map"`
}

// Optimization is the Worker's AI result for a page.
type Optimization struct {
	Completed       string  `json:"completed"`
	Model           string  `json:"model"`
	Confidence      float64 `json:"confidence"`
	Changes         int     `json:"changes"`
	OptimizedBlocks []Block `json:"optimized_blocks"`
	// SourceHash is the page content_hash the optimization was computed from.
	SourceHash string `json:"source_hash,omitempty"`
}

// AuditIssue is one Screaming Frog-style finding on a page.
type AuditIssue struct {
	Code     string `json:"code"`     // e.g. "title_missing", "description_too_long"
	Severity string `json:"severity"` // "error" | "warn" | "info"
	Message  string `json:"message"`
}

// Audit is computed at extraction and stored with the page (an addition).
type Audit struct {
	TitleLength       int          `json:"title_length"`
	DescriptionLength int          `json:"description_length"`
	H1Count           int          `json:"h1_count"`
	WordCount         int          `json:"word_count"`
	Issues            []AuditIssue `json:"issues,omitempty"`
}

// PageData is stored at page:{project_id}:{page_id} in NIMBUS_PAGES.
type PageData struct {
	PageID       string        `json:"page_id"`
	ProjectID    string        `json:"project_id"`
	BatchID      string        `json:"batch_id"`
	SourcePath   string        `json:"source_path"`
	Uploaded     string        `json:"uploaded"`
	Extraction   Extraction    `json:"extraction"`
	Optimization *Optimization `json:"optimization,omitempty"`

	// Additions (DESIGN.md section 3 and the extraction issue).
	ContentHash string `json:"content_hash,omitempty"`
	Audit       *Audit `json:"audit,omitempty"`
	// SourceMissing stamps when the source file disappeared from the watched
	// folder; the record is kept (never deleted).
	SourceMissing string `json:"source_missing,omitempty"`
}

// Review block states (DESIGN.md section 7).
const (
	ReviewOriginal  = "original"
	ReviewSuggested = "suggested"
	ReviewEdited    = "edited"
	ReviewAccepted  = "accepted"
	ReviewRejected  = "rejected"
	ReviewStale     = "stale"
)

// ReviewDecision is the editor's decision on one block.
type ReviewDecision struct {
	State string `json:"state"`
	// Text is the edited or accepted text (empty for original/rejected).
	Text string `json:"text,omitempty"`
	// OriginalHash is the sha256 of the block's original content when decided;
	// a rebuild that changes it makes the decision stale.
	OriginalHash string `json:"original_hash,omitempty"`
	Decided      string `json:"decided"`
}

// ReviewData is stored at review:{project_id}:{page_id} in NIMBUS_PAGES (an
// addition to the seed).
type ReviewData struct {
	PageID    string                    `json:"page_id"`
	ProjectID string                    `json:"project_id"`
	Blocks    map[string]ReviewDecision `json:"blocks"`
	Updated   string                    `json:"updated"`
}

// Page statuses (status records and batch page entries).
const (
	StatusUploaded   = "uploaded"
	StatusQueued     = "queued"
	StatusProcessing = "processing"
	StatusDone       = "done"
	StatusFailed     = "failed"
)

// Batch statuses.
const (
	BatchUploading  = "uploading"
	BatchQueued     = "queued"
	BatchProcessing = "processing"
	BatchCompleted  = "completed"
	BatchFailed     = "failed"
)

// BatchPage is one page's entry in a batch.
type BatchPage struct {
	Status    string `json:"status"`
	Uploaded  string `json:"uploaded"`
	Started   string `json:"started,omitempty"`
	Completed string `json:"completed,omitempty"`
	Error     string `json:"error,omitempty"`
}

// BatchSummary is derived from the batch's pages, never incremented.
type BatchSummary struct {
	Completed     int   `json:"completed"`
	Failed        int   `json:"failed"`
	Pending       int   `json:"pending"`
	AverageTimeMs int64 `json:"average_time_ms"`
}

// BatchData is stored at batch:{project_id}:{batch_id} in NIMBUS_BATCHES.
type BatchData struct {
	BatchID   string               `json:"batch_id"`
	ProjectID string               `json:"project_id"`
	Created   string               `json:"created"`
	PageCount int                  `json:"page_count"`
	Status    string               `json:"status"`
	Pages     map[string]BatchPage `json:"pages"`
	Summary   BatchSummary         `json:"summary"`
}

// QueueItem is one page waiting for the Worker.
type QueueItem struct {
	PageID   string `json:"page_id"`
	BatchID  string `json:"batch_id"`
	Priority int    `json:"priority"`
	QueuedAt string `json:"queued_at"`
	Attempts int    `json:"attempts"`
}

// QueueData is stored at queue:{project_id} in NIMBUS_QUEUE.
type QueueData struct {
	Items         []QueueItem `json:"items"`
	LastProcessed string      `json:"last_processed"`
}

// ProcessingInfo describes a page being processed.
type ProcessingInfo struct {
	Started     string `json:"started"`
	CurrentStep string `json:"current_step"`
	Progress    int    `json:"progress"`
}

// StatusResult describes a finished page.
type StatusResult struct {
	Completed  string  `json:"completed"`
	Success    bool    `json:"success"`
	Changes    int     `json:"changes"`
	Confidence float64 `json:"confidence"`
}

// StatusError describes a failed page.
type StatusError struct {
	Message   string `json:"message"`
	Code      string `json:"code"`
	Timestamp string `json:"timestamp"`
}

// StatusData is stored at status:{project_id}:{page_id} in NIMBUS_STATUS.
type StatusData struct {
	Status     string          `json:"status"`
	BatchID    string          `json:"batch_id"`
	Updated    string          `json:"updated"`
	Processing *ProcessingInfo `json:"processing,omitempty"`
	Result     *StatusResult   `json:"result,omitempty"`
	Error      *StatusError    `json:"error,omitempty"`
}

// Log levels.
const (
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
)

// LogEntry is one log line.
type LogEntry struct {
	Timestamp  string          `json:"timestamp"`
	Level      string          `json:"level"`
	Step       string          `json:"step"`
	Message    string          `json:"message"`
	Data       json.RawMessage `json:"data,omitempty"`
	DurationMs *int64          `json:"duration_ms,omitempty"`
}

// LogData is stored at logs:{project_id}:{page_id} in NIMBUS_LOGS.
type LogData struct {
	PageID  string     `json:"page_id"`
	Entries []LogEntry `json:"entries"`
}

// MaxLogEntries is how many entries a LogData keeps (the newest).
const MaxLogEntries = 1000
