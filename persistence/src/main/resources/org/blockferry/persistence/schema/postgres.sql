-- BlockFerry schema for PostgreSQL. Applied at every start; every statement is idempotent.
-- The journal tables have the names and columns pekko-persistence-jdbc reads and writes.

CREATE TABLE IF NOT EXISTS event_journal (
  ordering BIGSERIAL,
  persistence_id VARCHAR(255) NOT NULL,
  sequence_number BIGINT NOT NULL,
  deleted BOOLEAN DEFAULT FALSE NOT NULL,
  writer VARCHAR(255) NOT NULL,
  write_timestamp BIGINT,
  adapter_manifest VARCHAR(255),
  event_ser_id INTEGER NOT NULL,
  event_ser_manifest VARCHAR(255) NOT NULL,
  event_payload BYTEA NOT NULL,
  meta_ser_id INTEGER,
  meta_ser_manifest VARCHAR(255),
  meta_payload BYTEA,
  PRIMARY KEY (persistence_id, sequence_number)
);

CREATE UNIQUE INDEX IF NOT EXISTS event_journal_ordering_idx ON event_journal (ordering);

CREATE TABLE IF NOT EXISTS event_tag (
  event_id BIGINT,
  tag VARCHAR(256),
  PRIMARY KEY (event_id, tag),
  CONSTRAINT fk_event_journal FOREIGN KEY (event_id) REFERENCES event_journal (ordering) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS snapshot (
  persistence_id VARCHAR(255) NOT NULL,
  sequence_number BIGINT NOT NULL,
  created BIGINT NOT NULL,
  snapshot_ser_id INTEGER NOT NULL,
  snapshot_ser_manifest VARCHAR(255) NOT NULL,
  snapshot_payload BYTEA NOT NULL,
  meta_ser_id INTEGER,
  meta_ser_manifest VARCHAR(255),
  meta_payload BYTEA,
  PRIMARY KEY (persistence_id, sequence_number)
);

-- Read side: one row per job and per disk, kept up to date from the jobs' events.

CREATE TABLE IF NOT EXISTS replication_jobs (
  job_id VARCHAR(64) PRIMARY KEY,
  vm VARCHAR(255) NOT NULL,
  status VARCHAR(16) NOT NULL,
  mode VARCHAR(16) NOT NULL,
  total_bytes BIGINT NOT NULL DEFAULT 0,
  bytes_transferred BIGINT NOT NULL DEFAULT 0,
  bytes_written BIGINT NOT NULL DEFAULT 0,
  bytes_zeroed BIGINT NOT NULL DEFAULT 0,
  bytes_skipped BIGINT NOT NULL DEFAULT 0,
  progress_percent DOUBLE PRECISION NOT NULL DEFAULT 0,
  throughput_bps DOUBLE PRECISION NOT NULL DEFAULT 0,
  eta_seconds BIGINT NOT NULL DEFAULT -1,
  retries INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  spec TEXT NOT NULL,
  submitted_at TIMESTAMP WITH TIME ZONE NOT NULL,
  started_at TIMESTAMP WITH TIME ZONE,
  finished_at TIMESTAMP WITH TIME ZONE,
  updated_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE INDEX IF NOT EXISTS replication_jobs_status_idx ON replication_jobs (status, submitted_at);

CREATE TABLE IF NOT EXISTS vm_disks (
  job_id VARCHAR(64) NOT NULL,
  disk_id VARCHAR(64) NOT NULL,
  position INTEGER NOT NULL,
  source TEXT NOT NULL,
  target TEXT NOT NULL,
  status VARCHAR(16) NOT NULL,
  mode VARCHAR(16),
  mode_reason TEXT,
  capacity BIGINT NOT NULL DEFAULT 0,
  total_bytes BIGINT NOT NULL DEFAULT 0,
  bytes_transferred BIGINT NOT NULL DEFAULT 0,
  bytes_written BIGINT NOT NULL DEFAULT 0,
  bytes_zeroed BIGINT NOT NULL DEFAULT 0,
  bytes_skipped BIGINT NOT NULL DEFAULT 0,
  checkpoint BIGINT NOT NULL DEFAULT 0,
  progress_percent DOUBLE PRECISION NOT NULL DEFAULT 0,
  throughput_bps DOUBLE PRECISION NOT NULL DEFAULT 0,
  eta_seconds BIGINT NOT NULL DEFAULT -1,
  retries INTEGER NOT NULL DEFAULT 0,
  request_retries BIGINT NOT NULL DEFAULT 0,
  resumes INTEGER NOT NULL DEFAULT 0,
  bytes_recopied BIGINT NOT NULL DEFAULT 0,
  change_token TEXT,
  error TEXT,
  updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
  PRIMARY KEY (job_id, disk_id)
);

-- Columns added after the first release: databases created before get them here.
ALTER TABLE vm_disks ADD COLUMN IF NOT EXISTS resumes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE vm_disks ADD COLUMN IF NOT EXISTS bytes_recopied BIGINT NOT NULL DEFAULT 0;
-- Version 0.2: the read side stores each job's state as its events made it (JSON of JobState,
-- folded with the job actor's own event handler); the columns are copied from it for listing and
-- filtering. A database whose rows predate it is re-projected from the journal at start.
ALTER TABLE replication_jobs ADD COLUMN IF NOT EXISTS state TEXT;
ALTER TABLE vm_disks ADD COLUMN IF NOT EXISTS bytes_zero_sent BIGINT NOT NULL DEFAULT 0;
-- Cluster: the member ("host:port") that runs each job, or ran it last (JobState.node), for the
-- per-node counts of GET /api/v1/cluster.
ALTER TABLE replication_jobs ADD COLUMN IF NOT EXISTS node VARCHAR(255);

-- Leases (org.blockferry.persistence.lease): who may run a job, or keep the cluster after a split,
-- now. renewed_at is always the database's own clock (CURRENT_TIMESTAMP), never a node's, so the
-- nodes' clocks may disagree without breaking takeover; with a time zone, because the JDBC driver
-- sets each session's zone from its node's JVM and LOCALTIMESTAMP would differ between nodes.
CREATE TABLE IF NOT EXISTS blockferry_lease (
  name VARCHAR(255) PRIMARY KEY,
  owner VARCHAR(500) NOT NULL,
  renewed_at TIMESTAMP WITH TIME ZONE NOT NULL
);
