-- The original bytes of each document, so ingestion (and re-indexing) runs from the store.
CREATE TABLE document_contents (
    document_id     BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL,
    content         BLOB NOT NULL,
    FOREIGN KEY (organization_id, document_id) REFERENCES documents(organization_id, id) ON DELETE CASCADE
) STRICT;
