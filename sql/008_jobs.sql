-- The embedded job queue (no Redis): jobs survive a restart. With REDIS_URL set, BullMQ keeps its
-- jobs in Redis and this table stays empty.
CREATE TABLE jobs (
  queue text NOT NULL,
  id text NOT NULL,
  data jsonb NOT NULL,
  state text NOT NULL CHECK (state IN ('waiting', 'active', 'completed', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL CHECK (max_attempts >= 1),
  backoff_ms integer NOT NULL CHECK (backoff_ms >= 0),
  run_at timestamptz NOT NULL DEFAULT now(),
  locked_until timestamptz,
  progress real NOT NULL DEFAULT 0,
  failed_reason text,
  -- Set by cancel() for a running job; the process running it sees it within a second and aborts.
  cancel_requested boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, id)
);
CREATE INDEX jobs_due ON jobs (queue, run_at) WHERE state IN ('waiting', 'active');
