-- Knowledge bases, documents and chunks. Chunks keep their embedding (little-endian f32) for
-- the in-process vector index and are mirrored into an FTS5 index for keyword (BM25) search.

CREATE TABLE knowledge_bases (
    id                   BLOB PRIMARY KEY NOT NULL,
    organization_id      BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    embedding_model      TEXT NOT NULL,
    embedding_dimensions INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX knowledge_bases_org_id ON knowledge_bases(organization_id, id);

CREATE TABLE documents (
    id                BLOB PRIMARY KEY NOT NULL,
    organization_id   BLOB NOT NULL,
    knowledge_base_id BLOB NOT NULL,
    title             TEXT NOT NULL,
    source            TEXT NOT NULL,          -- JSON DocumentSource
    content_type      TEXT NOT NULL,
    content_hash      TEXT NOT NULL,          -- SHA-256, hex
    size_bytes        INTEGER NOT NULL,
    status            TEXT NOT NULL,          -- pending | processing | ready | failed
    progress          REAL NOT NULL DEFAULT 0,
    error             TEXT,
    chunk_count       INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    FOREIGN KEY (organization_id, knowledge_base_id)
        REFERENCES knowledge_bases(organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE UNIQUE INDEX documents_kb_hash ON documents(knowledge_base_id, content_hash);
CREATE UNIQUE INDEX documents_org_id ON documents(organization_id, id);

CREATE TABLE chunks (
    seq               INTEGER PRIMARY KEY,    -- rowid, the FTS5 content key
    id                BLOB NOT NULL UNIQUE,
    organization_id   BLOB NOT NULL,
    knowledge_base_id BLOB NOT NULL,
    document_id       BLOB NOT NULL,
    position          INTEGER NOT NULL,
    text              TEXT NOT NULL,
    heading_path      TEXT NOT NULL,          -- JSON array of headings
    token_count       INTEGER NOT NULL,
    embedding         BLOB NOT NULL,
    FOREIGN KEY (organization_id, document_id) REFERENCES documents(organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX chunks_document ON chunks(document_id, position);
CREATE INDEX chunks_kb ON chunks(knowledge_base_id, id);

CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, content = 'chunks', content_rowid = 'seq', tokenize = 'porter unicode61'
);
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (NEW.seq, NEW.text);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', OLD.seq, OLD.text);
END;
