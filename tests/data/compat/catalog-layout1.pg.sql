CREATE TABLE IF NOT EXISTS records (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, key TEXT NOT NULL UNIQUE, ref TEXT, repository TEXT, tag TEXT,
  platform TEXT, subject TEXT NOT NULL, version TEXT, created TEXT);
CREATE TABLE IF NOT EXISTS documents (
  record_id BIGINT NOT NULL PRIMARY KEY REFERENCES records(id) ON DELETE CASCADE,
  record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_by_created ON records(created DESC, key);
CREATE TABLE IF NOT EXISTS components (
  record_id BIGINT NOT NULL REFERENCES records(id) ON DELETE CASCADE, cid INTEGER NOT NULL,
  name TEXT NOT NULL, version TEXT NOT NULL, target TEXT, os TEXT, platform TEXT,
  PRIMARY KEY (record_id, cid));
CREATE INDEX IF NOT EXISTS components_by_name ON components(name, version, target, record_id, cid);
CREATE INDEX IF NOT EXISTS components_by_target ON components(target, name, record_id, cid);
CREATE TABLE IF NOT EXISTS options (
  record_id BIGINT NOT NULL REFERENCES records(id) ON DELETE CASCADE, cid INTEGER NOT NULL,
  key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (record_id, cid, key, value));
CREATE INDEX IF NOT EXISTS options_by_value ON options(key, value, record_id, cid);
CREATE TABLE IF NOT EXISTS compilers (
  record_id BIGINT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
  name TEXT NOT NULL, version TEXT NOT NULL, PRIMARY KEY (record_id, name, version));
CREATE INDEX IF NOT EXISTS compilers_by_name ON compilers(name, version, record_id);
DROP INDEX IF EXISTS components_name;
DROP INDEX IF EXISTS components_target;
DROP INDEX IF EXISTS options_kv;
DROP INDEX IF EXISTS compilers_name;
