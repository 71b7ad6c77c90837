-- Projects an admin created at run time (those of the configuration file are not
-- stored here). The definition is JSON: members, jurisdictions, accounts.
CREATE TABLE gateway_projects (
	name       TEXT PRIMARY KEY,
	definition TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
