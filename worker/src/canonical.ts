// Canonical JSON: the exact bytes Go's encoding/json writes for the model
// types (model.Canonical), so a value the Worker writes hashes the same as
// the desktop's re-encoding of it and a pull does not bounce it back as a
// change. That means: struct fields in Go declaration order, `omitempty`
// fields dropped when empty, map keys sorted, unknown fields dropped (Go
// ignores them when decoding), nil slices/maps as null, and Go's string
// escaping (<, >, & and U+2028/9 as \u escapes).

export type Schema =
  | "str"
  | "num"
  | "bool"
  | "raw"
  | { obj: Field[] }
  | { arr: Schema }
  | { map: Schema };

/** [json name, schema, omitempty] */
export type Field = [string, Schema, boolean];

const S: Schema = "str";
const N: Schema = "num";

const block: Schema = {
  obj: [
    ["id", S, false],
    ["type", S, false],
    ["content", S, false],
    ["attributes", { map: S }, true],
    ["optimized_content", S, true],
  ],
};

const extraction: Schema = {
  obj: [
    ["engine", S, false],
    ["main_selector", S, false],
    ["head", { map: S }, false],
    ["dimensions", { map: S }, false],
    ["above_fold_blocks", { arr: block }, false],
    ["rest_of_page_blocks", { arr: block }, false],
    ["selector_map", { map: S }, false],
  ],
};

const optimization: Schema = {
  obj: [
    ["completed", S, false],
    ["model", S, false],
    ["confidence", N, false],
    ["changes", N, false],
    ["optimized_blocks", { arr: block }, false],
    ["source_hash", S, true],
  ],
};

const audit: Schema = {
  obj: [
    ["title_length", N, false],
    ["description_length", N, false],
    ["h1_count", N, false],
    ["word_count", N, false],
    [
      "issues",
      {
        arr: {
          obj: [
            ["code", S, false],
            ["severity", S, false],
            ["message", S, false],
          ],
        },
      },
      true,
    ],
  ],
};

export const SCHEMAS: Record<string, Schema> = {
  user: {
    obj: [
      ["user_id", S, false],
      ["email", S, false],
      ["created", S, false],
      ["updated", S, true],
    ],
  },
  projects: { arr: S },
  apikeys: { arr: S },
  project: {
    obj: [
      ["project_id", S, false],
      ["user_id", S, false],
      ["name", S, false],
      ["created", S, false],
      [
        "settings",
        {
          obj: [
            ["tone", S, false],
            ["max_pages_per_batch", N, false],
            ["default_concurrency", N, false],
            ["ai_model", S, false],
            ["domain", S, false],
            ["main_selector", S, true],
            ["above_fold_max", N, true],
            ["above_fold_until", S, true],
            ["dimension_sources", { arr: S }, true],
            ["path_pattern", S, true],
            ["css_extractors", { map: S }, true],
            ["max_file_bytes", N, true],
          ],
        },
        false,
      ],
      [
        "usage",
        {
          obj: [
            ["total_pages", N, false],
            ["total_batches", N, false],
            ["last_activity", S, false],
          ],
        },
        false,
      ],
      ["settings_updated", S, true],
    ],
  },
  apikey: {
    obj: [
      ["user_id", S, false],
      ["created", S, false],
      ["last_used", S, false],
      ["active", "bool", false],
      ["name", S, false],
      [
        "usage",
        {
          obj: [
            ["requests_today", N, false],
            ["requests_total", N, false],
          ],
        },
        false,
      ],
    ],
  },
  email: {
    obj: [
      ["user_id", S, false],
      ["created", S, false],
    ],
  },
  cache: {
    obj: [
      ["data", "raw", false],
      ["created", S, false],
      ["expires", S, false],
      ["type", S, false],
    ],
  },
  session: {
    obj: [
      ["user_id", S, false],
      ["email", S, false],
      ["created", S, false],
      ["expires", S, false],
      ["ip", S, false],
      ["user_agent", S, false],
    ],
  },
  page: {
    obj: [
      ["page_id", S, false],
      ["project_id", S, false],
      ["batch_id", S, false],
      ["source_path", S, false],
      ["uploaded", S, false],
      ["extraction", extraction, false],
      ["optimization", optimization, true],
      ["content_hash", S, true],
      ["audit", audit, true],
      ["source_missing", S, true],
    ],
  },
  review: {
    obj: [
      ["page_id", S, false],
      ["project_id", S, false],
      [
        "blocks",
        {
          map: {
            obj: [
              ["state", S, false],
              ["text", S, true],
              ["original_hash", S, true],
              ["decided", S, false],
            ],
          },
        },
        false,
      ],
      ["updated", S, false],
    ],
  },
  batch: {
    obj: [
      ["batch_id", S, false],
      ["project_id", S, false],
      ["created", S, false],
      ["page_count", N, false],
      ["status", S, false],
      [
        "pages",
        {
          map: {
            obj: [
              ["status", S, false],
              ["uploaded", S, false],
              ["started", S, true],
              ["completed", S, true],
              ["error", S, true],
            ],
          },
        },
        false,
      ],
      [
        "summary",
        {
          obj: [
            ["completed", N, false],
            ["failed", N, false],
            ["pending", N, false],
            ["average_time_ms", N, false],
          ],
        },
        false,
      ],
    ],
  },
  queue: {
    obj: [
      [
        "items",
        {
          arr: {
            obj: [
              ["page_id", S, false],
              ["batch_id", S, false],
              ["priority", N, false],
              ["queued_at", S, false],
              ["attempts", N, false],
            ],
          },
        },
        false,
      ],
      ["last_processed", S, false],
    ],
  },
  status: {
    obj: [
      ["status", S, false],
      ["batch_id", S, false],
      ["updated", S, false],
      [
        "processing",
        {
          obj: [
            ["started", S, false],
            ["current_step", S, false],
            ["progress", N, false],
          ],
        },
        true,
      ],
      [
        "result",
        {
          obj: [
            ["completed", S, false],
            ["success", "bool", false],
            ["changes", N, false],
            ["confidence", N, false],
          ],
        },
        true,
      ],
      [
        "error",
        {
          obj: [
            ["message", S, false],
            ["code", S, false],
            ["timestamp", S, false],
          ],
        },
        true,
      ],
    ],
  },
  logs: {
    obj: [
      ["page_id", S, false],
      [
        "entries",
        {
          arr: {
            obj: [
              ["timestamp", S, false],
              ["level", S, false],
              ["step", S, false],
              ["message", S, false],
              ["data", "raw", true],
              ["duration_ms", N, true],
            ],
          },
        },
        false,
      ],
    ],
  },
};

/** Go's string escaping: JSON.stringify plus HTML-safe and line-separator escapes. */
export function goString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => {
    return "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
  });
}

function goNumber(n: unknown): string {
  const v = typeof n === "number" && Number.isFinite(n) ? n : 0;
  return JSON.stringify(v);
}

// Raw JSON (json.RawMessage): Go compacts it and escapes HTML characters;
// object key order is kept as given.
function rawJSON(v: unknown): string {
  if (v === undefined) return "null";
  if (typeof v === "string") return goString(v);
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(rawJSON).join(",") + "]";
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === undefined) continue;
    parts.push(goString(k) + ":" + rawJSON(x));
  }
  return "{" + parts.join(",") + "}";
}

function isEmpty(schema: Schema, v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (schema === "str") return v === "";
  if (schema === "num") return v === 0;
  if (schema === "bool") return v === false;
  if (schema === "raw") return false;
  if ("arr" in schema) return Array.isArray(v) && v.length === 0;
  if ("map" in schema) return typeof v === "object" && Object.keys(v as object).length === 0;
  return false; // pointer to struct: only nil is empty
}

function compareBytes(a: string, b: string): number {
  // Go sorts map keys by their UTF-8 bytes; for the BMP this equals
  // code-unit order, which is what < gives.
  return a < b ? -1 : a > b ? 1 : 0;
}

export function encode(schema: Schema, v: unknown): string {
  if (schema === "str") return goString(typeof v === "string" ? v : "");
  if (schema === "num") return goNumber(v);
  if (schema === "bool") return v === true ? "true" : "false";
  if (schema === "raw") return rawJSON(v);
  if ("arr" in schema) {
    if (!Array.isArray(v)) return "null";
    return "[" + v.map((x) => encode(schema.arr, x)).join(",") + "]";
  }
  if ("map" in schema) {
    if (v === null || typeof v !== "object") return "null";
    const keys = Object.keys(v as object)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort(compareBytes);
    return (
      "{" +
      keys.map((k) => goString(k) + ":" + encode(schema.map, (v as Record<string, unknown>)[k])).join(",") +
      "}"
    );
  }
  const o = (v ?? {}) as Record<string, unknown>;
  const parts: string[] = [];
  for (const [name, fs, omit] of schema.obj) {
    const x = o[name];
    if (omit && isEmpty(fs, x)) continue;
    parts.push(goString(name) + ":" + encode(fs, x));
  }
  return "{" + parts.join(",") + "}";
}

/** The kind of a key: its first colon-separated segment. */
export function kindOf(key: string): string {
  const i = key.indexOf(":");
  return i < 0 ? key : key.slice(0, i);
}

/** Canonical bytes (as a string) of a record stored under key. */
export function canonical(key: string, value: unknown): string {
  const schema = SCHEMAS[kindOf(key)];
  if (!schema) throw new Error(`canonical: key ${JSON.stringify(key)} has an unknown kind`);
  return encode(schema, value);
}

/** Canonical bytes of a record of a given kind. */
export function canonicalKind(kind: string, value: unknown): string {
  const schema = SCHEMAS[kind];
  if (!schema) throw new Error(`canonical: unknown kind ${JSON.stringify(kind)}`);
  return encode(schema, value);
}

/** Normalises a decoded value through its schema (drops unknown and empty optional fields). */
export function normalize<T>(kind: string, value: unknown): T {
  return JSON.parse(canonicalKind(kind, value)) as T;
}

export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
