-- The gateway's jobs, their state changes and the idempotency keys of requests.
CREATE TABLE gateway_jobs (
	id                TEXT PRIMARY KEY,           -- the gateway's job id
	tag               TEXT NOT NULL UNIQUE,       -- first word of the Slurm job's --comment
	state             TEXT NOT NULL,
	reason            TEXT NOT NULL DEFAULT '',
	project           TEXT NOT NULL,
	user              TEXT NOT NULL,              -- the person
	login             TEXT NOT NULL,              -- their login at the site
	site              TEXT NOT NULL,
	cluster           TEXT NOT NULL,
	account           TEXT NOT NULL,
	partition         TEXT NOT NULL,
	qos               TEXT NOT NULL DEFAULT '',
	name              TEXT NOT NULL DEFAULT '',
	script            BLOB NOT NULL,
	args              TEXT NOT NULL,              -- JSON array of sbatch options
	nodes_req         INTEGER NOT NULL,
	cpus_per_node     INTEGER NOT NULL,
	time_limit_s      INTEGER NOT NULL,
	array_spec        TEXT NOT NULL DEFAULT '',
	decision          TEXT NOT NULL DEFAULT '',   -- JSON routing decision
	site_job_id       TEXT NOT NULL DEFAULT '',
	site_submit_time  INTEGER NOT NULL DEFAULT 0, -- epoch seconds, as Slurm says
	nodes             TEXT NOT NULL DEFAULT '',   -- hostlist
	exit_code         INTEGER,
	exit_signal       INTEGER,
	core_seconds      INTEGER NOT NULL DEFAULT 0, -- charged
	hold_core_seconds INTEGER NOT NULL DEFAULT 0,
	stdout_path       TEXT NOT NULL DEFAULT '',
	stderr_path       TEXT NOT NULL DEFAULT '',
	attempts          INTEGER NOT NULL DEFAULT 0, -- sbatch attempts begun
	attempt_at        INTEGER NOT NULL DEFAULT 0, -- epoch ms of the latest attempt's start
	cancel_requested  INTEGER NOT NULL DEFAULT 0,
	settled           INTEGER NOT NULL DEFAULT 0,
	unreachable       INTEGER NOT NULL DEFAULT 0,
	created_at        INTEGER NOT NULL,           -- epoch ms
	submitted_at      INTEGER,                    -- epoch ms: site job id recorded
	started_at        INTEGER,
	ended_at          INTEGER
) STRICT;

CREATE INDEX gateway_jobs_site_state ON gateway_jobs (site, state);
CREATE INDEX gateway_jobs_project ON gateway_jobs (project, created_at);
CREATE INDEX gateway_jobs_user ON gateway_jobs (user, created_at);

CREATE TABLE gateway_job_events (
	seq    INTEGER PRIMARY KEY AUTOINCREMENT,
	job_id TEXT NOT NULL REFERENCES gateway_jobs (id),
	state  TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	at     INTEGER NOT NULL                         -- epoch ms
) STRICT;

CREATE INDEX gateway_job_events_job ON gateway_job_events (job_id, seq);

CREATE TABLE gateway_idempotency (
	principal  TEXT NOT NULL,
	key        TEXT NOT NULL,
	body_hash  TEXT NOT NULL,
	job_id     TEXT NOT NULL REFERENCES gateway_jobs (id),
	created_at INTEGER NOT NULL,
	PRIMARY KEY (principal, key)
) STRICT;

-- Array tasks: one row per task the site has shown.
CREATE TABLE gateway_array_tasks (
	job_id       TEXT NOT NULL REFERENCES gateway_jobs (id),
	task_id      TEXT NOT NULL,
	state        TEXT NOT NULL,
	exit_code    INTEGER,
	exit_signal  INTEGER,
	core_seconds INTEGER NOT NULL DEFAULT 0,
	settled      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (job_id, task_id)
) STRICT;
