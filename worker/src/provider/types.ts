// The AI provider contract: rewrite a page's text blocks in a tone. The
// processor does not care which provider runs; validation and caching live
// in provider/index.ts so every provider gets them.

export interface BlockInput {
  id: string;
  type: string;
  content: string;
}

export interface BlockOutput {
  id: string;
  text: string;
  confidence: number;
}

export interface OptimizeRequest {
  model: string;
  tone: string;
  domain: string;
  /** The project the page belongs to: the cache is per project. */
  project?: string;
  /** The page the blocks come from: context for the model (and the cache key). */
  page?: PageContextInput;
  blocks: BlockInput[];
}

/** What the model is told about the page (SEO copy depends on it). */
export interface PageContextInput {
  title?: string;
  description?: string;
  /** The page's dimensions (location, brand, service ...): names to keep. */
  dimensions?: Record<string, string>;
}

export interface Provider {
  readonly name: string;
  /** Returns one rewrite per requested block (unvalidated; the caller validates). */
  optimize(req: OptimizeRequest, signal?: AbortSignal): Promise<unknown>;
}

/** Error codes written to status.error.code. */
export type ErrorCode =
  | "AI_TIMEOUT"
  | "AI_ERROR"
  | "AI_RATE_LIMITED"
  | "AI_INVALID_RESPONSE"
  | "INVALID_CONTENT"
  | "PAGE_MISSING"
  | "SUPERSEDED";

export class ProcessError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Whether another attempt may succeed. */
    readonly retryable = true,
    /** How long the provider asked us to wait (Retry-After), when it did. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
