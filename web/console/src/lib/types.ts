// The API's JSON shapes the console uses (a subset of the server's OpenAPI document).

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface User {
  id: string;
  email: string;
  name: string;
}

export interface MyOrg {
  id: string;
  name: string;
  role: string;
  permissions: string[];
}

export interface Org {
  id: string;
  name: string;
}

export interface Session {
  user: User;
  organizations: MyOrg[];
  access_token?: string | null;
}

export interface RegisterResult {
  access_token: string;
  user: User;
  organization: Org;
}

export interface AiConfig {
  provider: string;
  model: string;
  system_prompt: string;
  temperature: number;
  max_tokens: number;
  knowledge_base_ids: string[];
  fallback_provider?: string | null;
  fallback_model?: string | null;
}

export interface BotSettings {
  nlu_threshold: number;
  idle_timeout_secs: number;
  allowed_origins: string[];
  unavailable_message: string;
}

export interface Bot {
  id: string;
  name: string;
  description: string;
  ai_config: AiConfig;
  settings: BotSettings;
  provider_status?: string | null;
  created_at: string;
  updated_at: string;
}

export interface Credential {
  provider: string;
  hint: string;
  base_url?: string | null;
}

export interface KnowledgeBase {
  id: string;
  name: string;
  description: string;
  embedding_provider: string;
  embedding_model: string;
  created_at: string;
}

export type DocumentStatus = "pending" | "processing" | "ready" | "failed";

export interface KbDocument {
  id: string;
  title: string;
  source: { type: string; filename?: string; url?: string };
  content_type: string;
  size_bytes: number;
  status: DocumentStatus;
  progress: number;
  error?: string | null;
  chunk_count: number;
  created_at: string;
}

export type SearchMode = "keyword" | "vector" | "hybrid";

export interface SearchHit {
  chunk_id: string;
  document_id: string;
  document_title: string;
  document_url?: string | null;
  heading_path: string[];
  text: string;
  score: number;
  keyword_score?: number | null;
  vector_score?: number | null;
}

export type ConversationStatus = "active" | "handoff" | "ended";

export interface Conversation {
  session_id: string;
  channel: string;
  external_user: string;
  status: ConversationStatus;
  created_at: string;
  last_activity_at: string;
}

export interface Citation {
  n: number;
  title?: string | null;
  url?: string | null;
  snippet?: string | null;
}

export interface Message {
  id: string;
  direction: "inbound" | "outbound" | "agent";
  text: string;
  payload: {
    entities?: Record<string, unknown>[];
    citations?: Citation[];
    tools?: Record<string, unknown>[];
    [key: string]: unknown;
  } | null;
  intent?: string | null;
  confidence?: number | null;
  created_at: string;
}

/** Counters of one analytics bucket, or of the whole range. */
export interface AnalyticsCounts {
  conversations: number;
  messages_in: number;
  messages_out: number;
  unique_users: number;
  fallbacks: number;
  fallback_rate: number | null;
  handoffs: number;
  handoff_rate: number | null;
  feedback_up: number;
  feedback_down: number;
  median_response_ms: number | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost_micros: number;
}

export interface AnalyticsBucket extends AnalyticsCounts {
  start: string;
}

export interface Analytics {
  since: string;
  until: string;
  interval: "hour" | "day";
  totals: AnalyticsCounts;
  series: AnalyticsBucket[];
  top_intents: { intent: string; count: number }[];
}
