-- 0003_answers_embedding_model: which embedding model retrieved an answer's passages. Chunks are stored per
-- model (re-embedding writes rows for the new model beside the old ones); the rag-chain searches one model's
-- rows, and each answer records which, so answers before and after a switch say what they were built on.
ALTER TABLE answers ADD COLUMN embedding_model text;
