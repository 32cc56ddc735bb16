-- Knowledge: knowledge bases, their documents (with the original bytes) and the documents'
-- chunks. The final shape of SQLite's 0008 (knowledge), 0010 (document contents) and 0013
-- (the embedder's provider), with the column representation of 0001_foundation.sql.
--
-- Chunks keep their embedding in a pgvector `vector` column and their keyword index in a
-- generated `tsvector` column with a GIN index (SQLite: a little-endian f32 BLOB, and an FTS5
-- table kept in step by triggers).
--
-- No approximate vector index (HNSW, IVFFlat) yet: such an index needs a fixed dimension, and
-- the dimension of the embeddings varies per knowledge base (each has its own embedder), so
-- the column has none. Indexing vectors in the database (an index per dimension, or partial
-- indexes per knowledge base over `embedding::vector(n)`) is separate work, to be measured
-- against the in-process index built from `chunk_embeddings`.

-- pgvector is not a trusted extension: where the role that migrates is no superuser, a
-- superuser creates it beforehand, and IF NOT EXISTS lets this pass. `unaccent` is trusted.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- Keyword search reads text the way SQLite's FTS5 tokenizer `porter unicode61` does: words
-- are runs of letters and digits (see `chunks.search`), case-folded, without diacritics
-- (`unaccent`), and reduced to their English stem (Snowball, the successor of Porter's
-- stemmer). Unlike the built-in `english` configuration it drops no stopword: the query
-- leaves stopwords out itself, and falls back to them when a query has nothing else, as it
-- does on SQLite ("what is it" must still find what it can).
CREATE TEXT SEARCH DICTIONARY botbuilder_stem (TEMPLATE = snowball, LANGUAGE = english);
CREATE TEXT SEARCH CONFIGURATION botbuilder_search (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION botbuilder_search
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
    WITH unaccent, botbuilder_stem;
ALTER TEXT SEARCH CONFIGURATION botbuilder_search
    ALTER MAPPING FOR numword, numhword, hword_numpart
    WITH unaccent, simple;

CREATE TABLE knowledge_bases (
    id                   uuid PRIMARY KEY,
    organization_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name                 text NOT NULL,
    description          text NOT NULL DEFAULT '',
    embedding_provider   text NOT NULL DEFAULT '',  -- '': the deployment's default embedder
    embedding_model      text NOT NULL,
    embedding_dimensions bigint NOT NULL,
    created_at           bigint NOT NULL,
    updated_at           bigint NOT NULL,
    UNIQUE (organization_id, id)
);

-- The organization leads the content-hash key (SQLite: knowledge base and hash), so a
-- document aimed at another organization's knowledge base always fails its foreign key
-- (NotFound) rather than, when that knowledge base holds the same content, the key (Conflict).
CREATE TABLE documents (
    id                uuid PRIMARY KEY,
    organization_id   uuid NOT NULL,
    knowledge_base_id uuid NOT NULL,
    title             text NOT NULL,
    source            text NOT NULL,              -- JSON DocumentSource
    content_type      text NOT NULL,
    content_hash      text NOT NULL,              -- SHA-256, hex
    size_bytes        bigint NOT NULL,
    status            text NOT NULL,              -- pending | processing | ready | failed
    progress          double precision NOT NULL DEFAULT 0,
    error             text,
    chunk_count       bigint NOT NULL DEFAULT 0,
    created_at        bigint NOT NULL,
    updated_at        bigint NOT NULL,
    UNIQUE (organization_id, id),
    UNIQUE (organization_id, knowledge_base_id, content_hash),
    FOREIGN KEY (organization_id, knowledge_base_id)
        REFERENCES knowledge_bases(organization_id, id) ON DELETE CASCADE
);
-- A knowledge base's documents, paged by id.
CREATE INDEX documents_kb ON documents(knowledge_base_id, id);

-- The original bytes of each document, so ingestion (and re-indexing) runs from the store.
CREATE TABLE document_contents (
    document_id     uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    content         bytea NOT NULL,
    FOREIGN KEY (organization_id, document_id)
        REFERENCES documents(organization_id, id) ON DELETE CASCADE
);

-- `embedding` is NULL only for a chunk stored with an empty vector, which pgvector cannot
-- hold (a vector has at least one dimension); it reads back empty, as on SQLite.
-- `search` indexes the text alone (as SQLite's FTS5 table does), every run of characters
-- other than letters and digits read as a space, as FTS5's `unicode61` splits words and the
-- query splits its own (the default parser would otherwise keep e-mail addresses, URLs and
-- decimals whole, and a query for one of their words would miss them). Letters and digits
-- are Unicode's whatever the database's locale, by the built-in collation `pg_c_utf8`
-- (Postgres 17 and later). STORED: Postgres 18 makes generated columns virtual by default,
-- and GIN indexes only stored ones.
CREATE TABLE chunks (
    id                uuid PRIMARY KEY,
    organization_id   uuid NOT NULL,
    knowledge_base_id uuid NOT NULL,
    document_id       uuid NOT NULL,
    position          bigint NOT NULL,
    text              text NOT NULL,
    heading_path      text NOT NULL,              -- JSON array of headings
    token_count       bigint NOT NULL,
    embedding         vector,
    search            tsvector NOT NULL GENERATED ALWAYS AS (to_tsvector(
        'botbuilder_search'::regconfig,
        regexp_replace(text COLLATE pg_c_utf8, '[^[:alnum:]]+', ' ', 'g')
    )) STORED,
    FOREIGN KEY (organization_id, document_id)
        REFERENCES documents(organization_id, id) ON DELETE CASCADE
);
CREATE INDEX chunks_document ON chunks(document_id, position);
CREATE INDEX chunks_kb ON chunks(knowledge_base_id, id);
CREATE INDEX chunks_search ON chunks USING gin (search);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['knowledge_bases', 'documents', 'document_contents', 'chunks'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant ON %I
                 USING (organization_id = botbuilder_tenant() OR botbuilder_system())
                 WITH CHECK (organization_id = botbuilder_tenant() OR botbuilder_system())', t);
    END LOOP;
END
$$;
