-- Each knowledge base records the provider of its embedder beside the model, so knowledge
-- bases of one organization may use different embedders. Rows from before keep '' and use
-- the deployment's default embedder until they are re-indexed.
ALTER TABLE knowledge_bases ADD COLUMN embedding_provider TEXT NOT NULL DEFAULT '';
