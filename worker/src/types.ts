// Record shapes of the eleven NIMBUS_* namespaces, mirroring model/types.go
// (the Go types are the contract; field names are the seed's). Optional
// fields are the Go side's `omitempty` ones: the Worker never writes them as
// null or undefined (see canonical.ts).

export interface Block {
  id: string;
  type: string;
  content: string;
  attributes?: Record<string, string>;
  optimized_content?: string;
}

export interface Extraction {
  engine: string;
  main_selector: string;
  head: Record<string, string> | null;
  dimensions: Record<string, string> | null;
  above_fold_blocks: Block[] | null;
  rest_of_page_blocks: Block[] | null;
  selector_map: Record<string, string> | null;
}

export interface Optimization {
  completed: string;
  model: string;
  confidence: number;
  changes: number;
  optimized_blocks: Block[] | null;
  source_hash?: string;
}

export interface AuditIssue {
  code: string;
  severity: string;
  message: string;
}

export interface Audit {
  title_length: number;
  description_length: number;
  h1_count: number;
  word_count: number;
  issues?: AuditIssue[];
}

export interface PageData {
  page_id: string;
  project_id: string;
  batch_id: string;
  source_path: string;
  uploaded: string;
  extraction: Extraction;
  optimization?: Optimization;
  content_hash?: string;
  audit?: Audit;
  source_missing?: string;
}

export interface ProjectSettings {
  tone: string;
  max_pages_per_batch: number;
  default_concurrency: number;
  ai_model: string;
  domain: string;
  [extra: string]: unknown;
}

export interface ProjectData {
  project_id: string;
  user_id: string;
  name: string;
  created: string;
  settings: ProjectSettings;
  usage: { total_pages: number; total_batches: number; last_activity: string };
  settings_updated?: string;
}

export interface KeyData {
  user_id: string;
  created: string;
  last_used: string;
  active: boolean;
  name: string;
  usage: { requests_today: number; requests_total: number };
}

export interface CacheData {
  data: unknown;
  created: string;
  expires: string;
  type: string;
}

export type PageStatus = "uploaded" | "queued" | "processing" | "done" | "failed";
export type BatchStatus = "uploading" | "queued" | "processing" | "completed" | "failed";

export interface BatchPage {
  status: PageStatus;
  uploaded: string;
  started?: string;
  completed?: string;
  error?: string;
}

export interface BatchSummary {
  completed: number;
  failed: number;
  pending: number;
  average_time_ms: number;
}

export interface BatchData {
  batch_id: string;
  project_id: string;
  created: string;
  page_count: number;
  status: BatchStatus;
  pages: Record<string, BatchPage> | null;
  summary: BatchSummary;
}

export interface QueueItem {
  page_id: string;
  batch_id: string;
  priority: number;
  queued_at: string;
  attempts: number;
}

export interface QueueData {
  items: QueueItem[] | null;
  last_processed: string;
}

export interface StatusData {
  status: PageStatus;
  batch_id: string;
  updated: string;
  processing?: { started: string; current_step: string; progress: number };
  result?: { completed: string; success: boolean; changes: number; confidence: number };
  error?: { message: string; code: string; timestamp: string };
}

export interface LogEntry {
  timestamp: string;
  level: "info" | "warn" | "error";
  step: string;
  message: string;
  data?: unknown;
  duration_ms?: number;
}

export interface LogData {
  page_id: string;
  entries: LogEntry[] | null;
}

export interface ReviewDecision {
  state: string;
  text?: string;
  original_hash?: string;
  decided: string;
}

export interface ReviewData {
  page_id: string;
  project_id: string;
  blocks: Record<string, ReviewDecision> | null;
  updated: string;
}

export interface UserData {
  user_id: string;
  email: string;
  created: string;
  updated?: string;
}

export interface EmailData {
  user_id: string;
  created: string;
}

export interface SessionData {
  user_id: string;
  email: string;
  created: string;
  expires: string;
  ip: string;
  user_agent: string;
}

export const PAGE_STATUS_RANK: Record<string, number> = {
  uploaded: 0,
  queued: 1,
  processing: 2,
  done: 3,
  failed: 3,
};

export const BATCH_STATUS_RANK: Record<string, number> = {
  uploading: 0,
  queued: 1,
  processing: 2,
  failed: 3,
  completed: 4,
};

export const MAX_LOG_ENTRIES = 1000;

// The head's title and meta description travel as blocks with reserved ids
// and types (the desktop's model.HeadBlocks): the AI rewrites them with the
// page's copy and their proposals go into optimized_blocks like any block's.
// Their limits are what search results show (model.TitleMaxChars,
// model.MetaDescriptionMaxChars).
export const BLOCK_ID_TITLE = "head-title";
export const BLOCK_ID_META_DESCRIPTION = "head-meta-description";
export const BLOCK_TYPE_TITLE = "title";
export const BLOCK_TYPE_META_DESCRIPTION = "meta_description";
export const TITLE_MAX_CHARS = 60;
export const META_DESCRIPTION_MAX_CHARS = 155;

/** The length limit of a head block type in characters (code points), 0 for other types. */
export function headBlockMaxChars(type: string): number {
  return type === BLOCK_TYPE_TITLE ? TITLE_MAX_CHARS : type === BLOCK_TYPE_META_DESCRIPTION ? META_DESCRIPTION_MAX_CHARS : 0;
}
